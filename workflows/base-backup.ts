import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { backupId } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { describeStored, baseBackupManifest, summarizeBackup } from './backup-manifest';
import { BaseBackupInputSchema, type BaseBackupInput } from './inputs';
import type { BackupReport } from './postgres-backup';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const transfer = proxyActivities<SharedActivities>(ActivityPresets.transfer);
const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);

/**
 * The physical base backup point-in-time recovery starts from (the guide's hourly
 * `pg_basebackup`, which was really a full copy every hour): with the WAL archive, any moment after
 * it can be restored, so it is needed only daily.
 */
export async function baseBackupWorkflow(input: BaseBackupInput = {}): Promise<BackupReport> {
  parseInput(BaseBackupInputSchema, input);
  const progress = beginRun({ kind: 'backup-base', target: 'postgres' });
  const { workflowId, runId, startTime } = workflowInfo();
  const id = backupId('base', startTime, runId);
  const backup = await progress.step('stream pg_basebackup into the bucket', () => transfer.takeBaseBackup({ backupId: id }), describeStored);
  const manifest = baseBackupManifest(id, backup, { workflowId, runId });
  await progress.step(`write the manifest of ${id}`, () => storage.writeBackupManifest(manifest));
  return { backups: [summarizeBackup(manifest)] };
}
