import { ApplicationFailure, executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { BackupManifest } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { newestFirst } from './backup-choice';
import { runChange } from './change-control';
import { ErrorType } from './error-types';
import { RestoreRedisInputSchema, type RestoreRedisInput } from './inputs';
import { redisBackupWorkflow } from './redis-backup';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);
const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const transfer = proxyActivities<SharedActivities>(ActivityPresets.transfer);

export interface RedisRestoreReport {
  restoredFrom: string;
  keys: number;
  /** The RDB as it was just before, backed up first; the undo puts it back. */
  safetyBackup: string;
}

/**
 * The guide's Redis restore (stop it, put dump.rdb in place, start it), as a managed change: checks the
 * backup, takes a safety backup of the current data, puts the RDB in place and waits until Redis has
 * loaded exactly the manifest's key count. If that fails, the safety backup is put back the same way.
 */
export async function restoreRedisWorkflow(input: RestoreRedisInput = {}): Promise<RedisRestoreReport> {
  const { backupId, ...options } = parseInput(RestoreRedisInputSchema, input);
  const { redis } = await probe.describeTopology();
  if (!redis) throw ApplicationFailure.nonRetryable('the inventory has no redis section', ErrorType.UnknownTarget);
  const backup = await chooseRdb(backupId);
  const onRedisHost = proxyActivities<HostActivities>({ ...ActivityPresets.transfer, taskQueue: redis.taskQueue });
  const { workflowId } = workflowInfo();

  return runChange(
    { kind: 'restore-redis', target: `redis:${redis.host}`, input, options },
    async (change) => {
      const verified = await change.check(`verify ${backup.id} against its manifest`, () => transfer.verifyBackupObject(backup));
      if (!verified.ok) throw ApplicationFailure.nonRetryable(`${backup.object.key}: ${verified.problem}`, ErrorType.ChecksumMismatch);
      // No undo: a backup changes nothing.
      const safety = await change.step('safety backup of the current data', () =>
        executeChild(redisBackupWorkflow, { workflowId: `${workflowId}/safety-backup`, args: [{}] }),
      );
      const safetyManifest = (await storage.listBackups('redis')).complete.find((m) => m.id === safety.backups[0].id)!;
      const { keys } = await change.step(
        `put ${backup.id} in place and restart Redis`,
        () => onRedisHost.putRdbInPlace({ manifest: backup }),
        () => onRedisHost.putRdbInPlace({ manifest: safetyManifest }),
        (r) => `${r.keys} keys loaded`,
      );
      return { restoredFrom: backup.id, keys, safetyBackup: safety.backups[0].id };
    },
    (report) => `restored Redis from ${report.restoredFrom}: ${report.keys} keys (safety backup ${report.safetyBackup})`,
  );
}

async function chooseRdb(backupId: string | undefined): Promise<BackupManifest> {
  const rdbs = newestFirst((await storage.listBackups('redis')).complete);
  const chosen = backupId ? rdbs.find((m) => m.id === backupId) : rdbs[0];
  if (!chosen) {
    throw ApplicationFailure.nonRetryable(
      backupId ? `no complete Redis backup "${backupId}" (newest: ${rdbs.slice(0, 3).map((m) => m.id).join(', ') || 'none'})` : 'no complete Redis backup to restore',
      ErrorType.UnknownTarget,
    );
  }
  return chosen;
}
