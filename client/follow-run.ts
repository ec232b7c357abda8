import { WorkflowFailedError, type WorkflowExecutionDescription } from '@temporalio/client';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { formatBytes } from '../workflows/health-report';
import type { Progress } from '../workflows/progress';
import type { OpsClient } from './ops-client';

export interface RunOutcome {
  workflowId: string;
  /** Temporal's status name: COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT, ... */
  status: string;
  result?: unknown;
  /** The root cause, with its type: "InvalidInput: components.0: expected one of ...". */
  failure?: string;
}

/**
 * Follows a run to its end, writing to `log` each step as it starts and finishes, each change of phase
 * ("waiting for approval ...") and, every few seconds, what its running activities last reported
 * (bytes dumped, segments checked); then returns how it ended. Steps come from the `progress` query of
 * managed changes; activity progress from their heartbeats, so backups show bytes too.
 */
export async function followRun(ops: OpsClient, workflowId: string, log: (line: string) => void, pollMs = 1000): Promise<RunOutcome> {
  const seen = new Map<string, string>();
  const activityReported = new Map<string, number>();
  let phase = '';
  for (;;) {
    const description = await ops.handle(workflowId).describe();
    const progress = await ops.progress(workflowId).catch(() => undefined);
    if (progress) {
      if (progress.phase !== phase) log(`· ${(phase = progress.phase)}`);
      for (const line of stepLines(progress, seen)) log(line);
    }
    for (const line of await activityLines(ops, description, activityReported)) log(line);
    if (description.status.name !== 'RUNNING') return outcomeOf(ops, description);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

/** One line per running activity with heartbeat details, at most every five seconds each. */
async function activityLines(ops: OpsClient, description: WorkflowExecutionDescription, reported: Map<string, number>): Promise<string[]> {
  const lines: string[] = [];
  for (const activity of description.raw.pendingActivities ?? []) {
    const id = `${activity.activityId}`;
    if (!activity.heartbeatDetails?.payloads?.length || Date.now() - (reported.get(id) ?? 0) < 5000) continue;
    reported.set(id, Date.now());
    const [details] = await decodeArrayFromPayloads(ops.temporal.options.loadedDataConverter, activity.heartbeatDetails.payloads);
    const attempt = (activity.attempt ?? 1) > 1 ? ` (attempt ${activity.attempt})` : '';
    lines.push(`  ⋯ ${activity.activityType?.name ?? 'activity'}${attempt}: ${describeDetails(details)}`);
  }
  return lines;
}

/** `phase=dumping storedBytes=1.2 GiB`: byte counts made readable. */
function describeDetails(details: unknown): string {
  if (!details || typeof details !== 'object') return String(details);
  return Object.entries(details)
    .map(([key, value]) => `${key}=${typeof value === 'number' && /bytes/i.test(key) ? formatBytes(value) : JSON.stringify(value)}`)
    .join(' ');
}

function stepLines(progress: Progress, seen: Map<string, string>): string[] {
  const mark = { running: '…', done: '✓', failed: '✗', undone: '↺', 'undo failed': '!' } as const;
  return progress.steps.flatMap((step, i) => {
    const key = `${i}:${step.name}`;
    if (seen.get(key) === step.status) return [];
    seen.set(key, step.status);
    const seconds = step.finishedAt ? ` (${((Date.parse(step.finishedAt) - Date.parse(step.startedAt)) / 1000).toFixed(1)} s)` : '';
    return [`${mark[step.status]} ${step.name}${seconds}${step.detail && step.status !== 'running' ? `: ${step.detail}` : ''}`];
  });
}

/** How a closed run ended, with its result or the root cause of its failure. */
export async function outcomeOf(ops: OpsClient, description: WorkflowExecutionDescription): Promise<RunOutcome> {
  const { workflowId } = description;
  const status = description.status.name;
  try {
    const result: unknown = await ops.handle(workflowId).result();
    return { workflowId, status, result };
  } catch (err) {
    return { workflowId, status, failure: rootCause(err) };
  }
}

export function rootCause(err: unknown): string {
  let current = (err instanceof WorkflowFailedError ? err.cause : err) as { message?: string; type?: string; cause?: unknown } | undefined;
  while (current?.cause) current = current.cause;
  const type = current?.type ? `${current.type}: ` : '';
  return `${type}${current?.message ?? String(err)}`;
}
