import { defineQuery, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { backupId } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { postgresDumpManifest, summarizeBackup, type BackupSummary } from './backup-manifest';
import { PostgresBackupInputSchema, type PostgresBackupInput } from './inputs';
import { parseInput } from './validate-input';

const transfer = proxyActivities<SharedActivities>(ActivityPresets.transfer);
const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface BackupReport {
  backups: BackupSummary[];
}

export const backupProgressQuery = defineQuery<{ done: string[]; current: string | null; remaining: string[] }>('progress');

/**
 * The guide's daily full backup, done properly: for each database, a streaming dump through
 * compression into the bucket, checksummed in the stream, row counts from the same snapshot —
 * then the manifest, written last, which is what makes the backup exist.
 */
export async function postgresBackupWorkflow(input: PostgresBackupInput = {}): Promise<BackupReport> {
  const { databases } = parseInput(PostgresBackupInputSchema, input);
  const topology = await probe.describeTopology();
  const targets = databases ?? topology.postgres?.databases ?? [];
  const { workflowId, runId, startTime } = workflowInfo();

  const done: string[] = [];
  let current: string | null = null;
  setHandler(backupProgressQuery, () => ({ done, current, remaining: targets.slice(done.length + (current ? 1 : 0)) }));

  const backups: BackupSummary[] = [];
  for (const database of targets) {
    current = database;
    const id = backupId(database, startTime, runId);
    const dump = await transfer.dumpPostgresDatabase({ database, backupId: id });
    const manifest = postgresDumpManifest(id, dump, { workflowId, runId });
    await storage.writeBackupManifest(manifest);
    backups.push(summarizeBackup(manifest));
    done.push(database);
    current = null;
  }
  return { backups };
}
