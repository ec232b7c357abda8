import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { BackupStatusInputSchema, type BackupStatusInput } from './inputs';
import { parseInput } from './validate-input';
import { allBackupKinds } from '../inventory/backup-catalog';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface BackupFreshness {
  kind: string;
  latest: { id: string; finishedAt: string; size: number } | null;
  ageHours: number | null;
  complete: number;
  incomplete: number;
  /** No backup, or the newest is older than backup.maxAgeHours. */
  stale: boolean;
  problem?: string;
}

/**
 * The last complete backup of each kind and its age; any kind with none, or older than
 * backup.maxAgeHours, is flagged — the warning pgBackRest users ask for.
 */
export async function backupStatusWorkflow(input: BackupStatusInput = {}): Promise<{ checkedAt: string; kinds: BackupFreshness[] }> {
  parseInput(BackupStatusInputSchema, input);
  const { backup } = await probe.describeTopology();
  const now = workflowInfo().runStartTime;
  const kinds: BackupFreshness[] = [];
  for (const kind of allBackupKinds) {
    const listing = await storage.listBackups(kind);
    const newest = [...listing.complete].sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt))[0];
    const ageHours = newest ? Math.round(((now.getTime() - Date.parse(newest.finishedAt)) / 3_600_000) * 10) / 10 : null;
    const stale = ageHours === null || ageHours > backup.maxAgeHours;
    kinds.push({
      kind,
      latest: newest ? { id: newest.id, finishedAt: newest.finishedAt, size: newest.object.size } : null,
      ageHours,
      complete: listing.complete.length,
      incomplete: listing.incomplete.length,
      stale,
      ...(stale
        ? { problem: ageHours === null ? 'no complete backup' : `newest is ${ageHours} h old, over ${backup.maxAgeHours} h` }
        : {}),
    });
  }
  return { checkedAt: now.toISOString(), kinds };
}
