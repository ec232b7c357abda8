import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import { backupId } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { describeStored, redisManifest, summarizeBackup } from './backup-manifest';
import { ErrorType } from './error-types';
import { RedisBackupInputSchema, type RedisBackupInput } from './inputs';
import type { BackupReport } from './postgres-backup';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

/**
 * The guide's Redis backup with its bug fixed: BGSAVE, wait until that save has really finished,
 * copy and check the RDB, upload it; then the manifest. Runs on the Redis host's queue.
 */
export async function redisBackupWorkflow(input: RedisBackupInput = {}): Promise<BackupReport> {
  parseInput(RedisBackupInputSchema, input);
  const progress = beginRun({ kind: 'backup-redis', target: 'redis' });
  const { redis } = await probe.describeTopology();
  if (!redis) throw ApplicationFailure.nonRetryable('the inventory has no redis section', ErrorType.UnknownTarget);
  const { workflowId, runId, startTime } = workflowInfo();
  const onRedisHost = proxyActivities<HostActivities>({ ...ActivityPresets.transfer, taskQueue: redis.taskQueue });

  const id = backupId('redis', startTime, runId);
  const backup = await progress.step('BGSAVE, check and upload the RDB', () => onRedisHost.backupRedis({ backupId: id }), describeStored);
  const manifest = redisManifest(id, backup, { workflowId, runId });
  await progress.step(`write the manifest of ${id}`, () => storage.writeBackupManifest(manifest));
  return { backups: [summarizeBackup(manifest)] };
}
