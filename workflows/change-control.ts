import {
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { ChangeOutcome } from '../activities/change-records';
import { ActivityPresets } from './activity-options';
import {
  abortSignal,
  approveSignal,
  changeStatusQuery,
  pauseSignal,
  rejectSignal,
  resumeSignal,
  type ChangeStatus,
  type Decision,
} from './change-signals';
import { describeWindow, isWindowOpen, nextWindowOpening } from './change-window';
import { msOf } from './durations';
import { ErrorType } from './error-types';
import type { ChangeOptions } from './inputs';
import type { ProgressLog } from './progress';
import { beginRun } from './run-labels';

/**
 * Change management shared by every mutating workflow (the guide's 变更管理: 审批, 变更窗口, 回滚预案, 变更记录):
 * an approval gate, a change window, pause/resume/abort, a saga of compensations, and a change record
 * in PostgreSQL from start to outcome. A workflow states its steps; this module decides when they may run.
 *
 *   return runChange({ kind: 'restart-service', target: `service:${service}`, input, options }, async (change) => {
 *     await change.step('restart tego-os-host1-1', () => host.restartContainer(...));   // no undo: a restart is not undone
 *     return { restarted: 1 };
 *   });
 */

const records = proxyActivities<SharedActivities>(ActivityPresets.record);
const lateRecords = proxyActivities<SharedActivities>({ ...ActivityPresets.record, scheduleToCloseTimeout: '1 minute' });

export interface ChangeSpec {
  /** The CLI kind of the workflow, e.g. "restart-service". */
  kind: string;
  /** What it changes, e.g. "service:tego-os". */
  target: string;
  /** The validated input (its digest goes into the record). */
  input: unknown;
  options: ChangeOptions;
  /**
   * Write the whole record when the change ends instead of opening it at the start: for a failover,
   * whose change log lives on the primary that is down until the change has promoted another.
   * A record that still cannot be written is logged, and the change's own outcome stands.
   */
  recordAtEnd?: boolean;
}

/** The handle a mutating workflow's body uses to run its steps. */
export interface Change {
  /**
   * Runs one mutating step once the change may proceed (approved, inside the window, not paused), and
   * registers `undo` to run if this or a later step fails or the change is cancelled or aborted. `undo`
   * must be idempotent and safe when the step did only part of its work, or none (its result is then
   * undefined).
   */
  step<T>(name: string, run: () => Promise<T>, undo?: (result: T | undefined) => Promise<unknown>, describe?: (result: T) => string): Promise<T>;
  /** A read-only step: logged, but needing neither the window nor an undo. */
  check<T>(name: string, run: () => Promise<T>, describe?: (result: T) => string): Promise<T>;
}

/**
 * Runs `body` as a managed change and returns its result. On failure, cancellation or abort the
 * registered undos run in reverse (not cancellable), the record says what happened, and the error is
 * rethrown, so the run shows failed or cancelled with the reason.
 * @throws ApplicationFailure `ChangeRejected` when rejected or not approved in time (nothing changed)
 * @throws ApplicationFailure `ChangeAborted` when aborted by signal (after undoing)
 */
export async function runChange<T>(spec: ChangeSpec, body: (change: Change) => Promise<T>, summarize: (result: T) => string): Promise<T> {
  const { workflowId, runId } = workflowInfo();
  const { approval, window, requestedBy, reason } = spec.options;
  const changeId = spec.options.changeId ?? workflowId;
  const undos: { name: string; undo: () => Promise<unknown> }[] = [];
  let decision: (Decision & { approved: boolean }) | null = null;
  let approvalDeadline: Date | null = null;
  let paused = false;
  let abortedBy: Decision | null = null;
  const ignored: string[] = [];

  const log = beginRun({ kind: spec.kind, target: spec.target, changeId, requestedBy, summary: reason });
  const mayDecide = (by: string): string | null => {
    if (approval?.approvers && !approval.approvers.includes(by)) return `${by} is not an approver (approvers: ${approval.approvers.join(', ')})`;
    if (!approval?.approvers && by === requestedBy) return `${by} requested this change and cannot also approve it`;
    return null;
  };
  const decide = (approved: boolean) => (d: Decision) => {
    const refusal = mayDecide(d.by);
    if (decision || !approval?.required) ignored.push(`${approved ? 'approval' : 'rejection'} by ${d.by}: ${decision ? 'already decided' : 'no approval was asked for'}`);
    else if (refusal) ignored.push(`${approved ? 'approval' : 'rejection'} by ${d.by}: ${refusal}`);
    else decision = { ...d, approved };
  };
  setHandler(approveSignal, decide(true));
  setHandler(rejectSignal, decide(false));
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  setHandler(abortSignal, (d) => void (abortedBy ??= d));
  setHandler(changeStatusQuery, (): ChangeStatus => {
    const now = new Date();
    return {
      changeId,
      kind: spec.kind,
      target: spec.target,
      requestedBy,
      phase: log.snapshot().phase,
      approval: approval
        ? { required: approval.required, approvers: approval.approvers ?? null, deadline: approvalDeadline?.toISOString() ?? null, decision }
        : null,
      window: window
        ? { description: describeWindow(window), open: isWindowOpen(window, now), nextOpening: nextWindowOpening(window, now).toISOString() }
        : null,
      paused,
      ignored,
    };
  });

  const throwIfAborted = () => {
    if (abortedBy) {
      throw ApplicationFailure.nonRetryable(`aborted by ${abortedBy.by}${abortedBy.comment ? `: ${abortedBy.comment}` : ''}`, ErrorType.ChangeAborted);
    }
  };
  /** Holds until a mutating step may begin: not paused, inside the window; an abort ends the wait. */
  const mayProceed = async () => {
    for (;;) {
      throwIfAborted();
      if (paused) {
        log.setPhase('paused');
        await condition(() => !paused || abortedBy !== null);
        continue;
      }
      if (window && !isWindowOpen(window, new Date())) {
        const opening = nextWindowOpening(window, new Date());
        log.setPhase(`waiting for the change window (${describeWindow(window)}), opens ${opening.toISOString()}`);
        await condition(() => paused || abortedBy !== null, Math.max(1000, opening.getTime() - Date.now()));
        continue;
      }
      log.setPhase('running');
      return;
    }
  };

  const change: Change = {
    async step(name, run, undo, describe) {
      await mayProceed();
      // Registered before the step runs: a step that fails part-way (a half-restored database) is
      // undone too, so every undo must be safe on a step that did nothing or only some of its work.
      const done: { result?: Awaited<ReturnType<typeof run>> } = {};
      if (undo) undos.push({ name, undo: () => undo(done.result) });
      done.result = await log.step(name, run, describe);
      return done.result;
    },
    check: (name, run, describe) => log.step(name, run, describe),
  };

  const start = {
    workflowId,
    runId,
    changeId,
    kind: spec.kind,
    target: spec.target,
    requestedBy,
    reason,
    input: spec.input,
    startedAt: workflowInfo().runStartTime.toISOString(),
  };
  let approvalRecord: { workflowId: string; runId: string; approvedBy: string; comment?: string } | null = null;
  if (!spec.recordAtEnd) await records.recordChangeStart(start);
  const end = (outcome: ChangeOutcome, summary: string) => ({
    workflowId,
    runId,
    outcome,
    summary,
    changes: log.snapshot().steps.map((s) => ({ step: s.name, status: s.status, ...(s.detail ? { detail: s.detail } : {}) })),
    finishedAt: new Date().toISOString(),
  });
  const finish = (outcome: ChangeOutcome, summary: string) =>
    CancellationScope.nonCancellable(async () => {
      if (!spec.recordAtEnd) return records.recordChangeEnd(end(outcome, summary));
      try {
        await lateRecords.recordChangeStart(start);
        if (approvalRecord) await lateRecords.recordChangeApproval(approvalRecord);
        await lateRecords.recordChangeEnd(end(outcome, summary));
      } catch (err) {
        log.setPhase(`${outcome}; the change record could not be written: ${(err as Error).message}`);
      }
    });

  try {
    if (approval?.required) {
      approvalDeadline = new Date(Date.now() + msOf(approval.timeout));
      log.setPhase(`waiting for approval${approval.approvers ? ` by ${approval.approvers.join(' or ')}` : ''} until ${approvalDeadline.toISOString()}`);
      const decided = await condition(() => decision !== null || abortedBy !== null, approval.timeout);
      throwIfAborted();
      const final = decision as (Decision & { approved: boolean }) | null;
      if (!decided || !final?.approved) {
        const why = final ? `rejected by ${final.by}${final.comment ? `: ${final.comment}` : ''}` : `not approved within ${approval.timeout}`;
        log.setPhase(why);
        await finish('rejected', `${why}; nothing was changed`);
        throw ApplicationFailure.nonRetryable(`change ${changeId} ${why}; nothing was changed`, ErrorType.ChangeRejected);
      }
      approvalRecord = { workflowId, runId, approvedBy: final.by, comment: final.comment };
      if (!spec.recordAtEnd) await records.recordChangeApproval(approvalRecord);
    }
    const result = await body(change);
    log.setPhase('succeeded');
    await finish('succeeded', summarize(result));
    return result;
  } catch (err) {
    if (err instanceof ApplicationFailure && err.type === ErrorType.ChangeRejected) throw err;
    const cancelled = isCancellation(err);
    log.setPhase(undos.length > 0 ? 'undoing' : cancelled ? 'cancelled' : 'failed');
    const undoNotes = await CancellationScope.nonCancellable(() => undoAll(undos, log));
    const cause = cancelled ? 'cancelled' : (err as Error).message;
    const outcome: ChangeOutcome = cancelled || abortedBy ? 'cancelled' : undos.length > 0 ? 'compensated' : 'failed';
    log.setPhase(outcome);
    await finish(outcome, [cause, ...undoNotes].join('; '));
    throw err;
  }
}

/** Runs the undos in reverse; one that fails is reported and the rest still run. */
async function undoAll(undos: { name: string; undo: () => Promise<unknown> }[], log: ProgressLog): Promise<string[]> {
  const notes: string[] = [];
  for (const { name, undo } of [...undos].reverse()) {
    try {
      await undo();
      log.markUndone(name, 'undone');
      notes.push(`undid: ${name}`);
    } catch (err) {
      log.markUndone(name, 'undo failed', (err as Error).message);
      notes.push(`could not undo ${name}: ${(err as Error).message}`);
    }
  }
  return notes;
}
