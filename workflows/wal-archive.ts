import { ApplicationFailure, continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { ErrorType } from './error-types';
import { WalArchiveInputSchema, type WalArchiveInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

/**
 * Keeps WAL flowing into the bucket: runs the archiver on the primary's host for a period, then
 * continues as new so its history stays small (and, after a switchover or failover, starts again on the
 * new primary's host). A dead worker or a dropped connection is retried by
 * Temporal; the replication slot holds the WAL on the primary meanwhile. The schedule that starts
 * it skips while it runs, which keeps exactly one archiver alive.
 */
export async function walArchiveWorkflow(input: WalArchiveInput = {}): Promise<never> {
  const { periodSeconds } = parseInput(WalArchiveInputSchema, input);
  const progress = beginRun({ kind: 'wal-archive', target: 'postgres' });
  const { postgres } = await probe.describeTopology();
  if (!postgres?.walArchiveEnabled) {
    throw ApplicationFailure.nonRetryable('WAL archiving is off: set backup.walArchive.enabled in the inventory', ErrorType.InvalidInput);
  }
  const onPrimaryHost = proxyActivities<HostActivities>({
    taskQueue: postgres.primaryTaskQueue,
    startToCloseTimeout: `${periodSeconds + 300} seconds`,
    // Short, so a cancellation reaches the archiver within seconds (heartbeats carry it).
    heartbeatTimeout: '10 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
  });
  await progress.step(`archive WAL for ${periodSeconds} s`, () => onPrimaryHost.archiveWal({ maxSeconds: periodSeconds }), (p) =>
    `${p.uploaded} segments, last ${p.lastSegment ?? '-'}${p.primaryMovedTo ? `; the primary is now on ${p.primaryMovedTo}, following it` : ''}`,
  );
  return continueAsNew<typeof walArchiveWorkflow>({ periodSeconds });
}
