import { defineQuery, defineSignal } from '@temporalio/workflow';

/**
 * The signals and query of a managed change (see change-control.ts), in a module of their own so the
 * client can use them without loading workflow code.
 */

export interface Decision {
  /** Who decided: a person's name or login. */
  by: string;
  /** Why: recorded with the change. */
  comment?: string;
}

export const approveSignal = defineSignal<[Decision]>('approve');
export const rejectSignal = defineSignal<[Decision]>('reject');
/** Hold before the next mutating step; the step already running finishes. */
export const pauseSignal = defineSignal<[Decision]>('pause');
export const resumeSignal = defineSignal<[Decision]>('resume');
/** Stop before the next step and undo what was done. */
export const abortSignal = defineSignal<[Decision]>('abort');

export interface ChangeStatus {
  changeId: string;
  kind: string;
  target: string;
  requestedBy: string;
  phase: string;
  approval: { required: boolean; approvers: string[] | null; deadline: string | null; decision: (Decision & { approved: boolean }) | null } | null;
  window: { description: string; open: boolean; nextOpening: string | null } | null;
  paused: boolean;
  /** Signals that were not acted on, and why ("carol is not an approver"). */
  ignored: string[];
}

export const changeStatusQuery = defineQuery<ChangeStatus>('changeStatus');
