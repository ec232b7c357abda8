import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { backupId } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { describeStored, postgresDumpManifest, summarizeBackup, type BackupSummary } from './backup-manifest';
import { PostgresBackupInputSchema, type PostgresBackupInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const transfer = proxyActivities<SharedActivities>(ActivityPresets.transfer);
const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface BackupReport {
  backups: BackupSummary[];
}

/**
 * The guide's daily full backup, done properly: for each database, a streaming dump through
 * compression into the bucket, checksummed in the stream, row counts from the same snapshot —
 * then the manifest, written last, which is what makes the backup exist.
 */
export async function postgresBackupWorkflow(input: PostgresBackupInput = {}): Promise<BackupReport> {
  const { databases } = parseInput(PostgresBackupInputSchema, input);
  const progress = beginRun({ kind: 'backup-postgres', target: databases?.join(',') ?? 'all' });
  const topology = await probe.describeTopology();
  const targets = databases ?? topology.postgres?.databases ?? [];
  const { workflowId, runId, startTime } = workflowInfo();

  const backups: BackupSummary[] = [];
  for (const database of targets) {
    const id = backupId(database, startTime, runId);
    const dump = await progress.step(`dump ${database}`, () => transfer.dumpPostgresDatabase({ database, backupId: id }), describeStored);
    const manifest = postgresDumpManifest(id, dump, { workflowId, runId });
    await progress.step(`write the manifest of ${id}`, () => storage.writeBackupManifest(manifest));
    backups.push(summarizeBackup(manifest));
  }
  return { backups };
}
