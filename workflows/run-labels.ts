import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { patched, upsertMemo, upsertSearchAttributes } from '@temporalio/workflow';
import { ProgressLog } from './progress';

/**
 * Custom search attributes every tego-ops workflow sets, so the Temporal UI's list reads like a change
 * log and can be filtered (`TegoKind = "restart-service" AND TegoTarget = "service:tego-os"`). They must
 * be registered on the server (the sandbox does it; production: `temporal operator search-attribute create`).
 * Their values are visible to anyone who can list workflows: never put a secret in one.
 */
export const RunSearchAttributes = {
  kind: defineSearchAttributeKey('TegoKind', SearchAttributeType.KEYWORD),
  target: defineSearchAttributeKey('TegoTarget', SearchAttributeType.KEYWORD),
  changeId: defineSearchAttributeKey('TegoChangeId', SearchAttributeType.KEYWORD),
  requestedBy: defineSearchAttributeKey('TegoRequestedBy', SearchAttributeType.KEYWORD),
} as const;

export const runSearchAttributeNames = Object.values(RunSearchAttributes).map((key) => key.name);

export interface RunLabels {
  /** The CLI kind, e.g. "backup-postgres", "restart-service". */
  kind: string;
  /** What it acts on, e.g. "postgres://pg1/tego_engine", "service:tego-os". */
  target: string;
  changeId?: string;
  requestedBy?: string;
  /** One line for the memo: why, or what was asked. */
  summary?: string;
}

/**
 * Labels the running workflow with search attributes and a memo. Called first thing by every workflow, so
 * runs started from the UI or a schedule are labelled like those started by the CLI.
 */
export function labelRun(labels: RunLabels): void {
  // Runs recorded before labels existed replay without these commands.
  if (!patched('run-labels')) return;
  upsertSearchAttributes([
    { key: RunSearchAttributes.kind, value: labels.kind },
    { key: RunSearchAttributes.target, value: labels.target },
    ...(labels.changeId ? [{ key: RunSearchAttributes.changeId, value: labels.changeId }] : []),
    ...(labels.requestedBy ? [{ key: RunSearchAttributes.requestedBy, value: labels.requestedBy }] : []),
  ]);
  upsertMemo({ kind: labels.kind, target: labels.target, ...(labels.summary ? { summary: labels.summary } : {}) });
}

/**
 * The first line of every workflow: labels the run (search attributes, memo) and starts its step log,
 * which answers the `progress` query and keeps the UI's current-details line up to date.
 */
export function beginRun(labels: RunLabels): ProgressLog {
  labelRun(labels);
  return new ProgressLog();
}
