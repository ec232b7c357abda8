import { defineQuery, defineSignal } from '@temporalio/workflow';
import type { Alert } from './alert-rules';

/**
 * How the patrol and people talk to an incident. Kept apart from the workflow so the client and the
 * activities that signal it import no workflow code.
 */

/** What one patrol saw of the incident's alert: still firing (with its latest figures), or cleared. */
export type Observation = { firing: true; alert: Alert; inhibitedBy?: string } | { firing: false };

export const observeSignal = defineSignal<[Observation]>('observe');
/** A person takes the incident: escalation and repeats stop; the resolved notice still goes out. */
export const ackSignal = defineSignal<[{ by: string; comment?: string }]>('ack');

export interface IncidentStatus {
  incidentId: string;
  alert: Alert;
  state: 'firing' | 'acknowledged' | 'resolved';
  openedAt: string;
  acknowledged?: { by: string; at: string; comment?: string };
  resolvedAt?: string;
  /** Escalation level reached (0: the first contact). */
  level: number;
  inhibitedBy?: string;
  notifications: { at: string; kind: string; level: number; delivered: string[]; silencedBy?: string; failed?: string }[];
  remediation?: { action: string; outcome: 'running' | 'fixed' | 'failed' | 'started'; detail?: string };
}

export const incidentStatusQuery = defineQuery<IncidentStatus>('incidentStatus');

/** One incident per dedup key: its workflow id. A closed incident's id is reused when the alert fires again. */
export function incidentWorkflowId(dedupKey: string): string {
  return `incident-${dedupKey.replace(/[^A-Za-z0-9._:@-]/g, '_')}`;
}
