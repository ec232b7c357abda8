import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { BackupStatusInputSchema, type BackupStatusInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';
import { allBackupKinds } from '../inventory/backup-catalog';
import type { TopologyView } from '../inventory/topology';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface BackupFreshness {
  kind: string;
  /** What is backed up (`postgres://pg1/tego_engine`); null for a kind with nothing configured or stored. */
  source: string | null;
  latest: { id: string; finishedAt: string; size: number } | null;
  ageHours: number | null;
  complete: number;
  /** Leftovers without a manifest, of the whole kind (they name no source). */
  incomplete: number;
  /** No backup, or the newest is older than backup.maxAgeHours. */
  stale: boolean;
  problem?: string;
}

/**
 * The last complete backup of each source of each kind — every database, every host's config files —
 * and its age; any source the inventory names with none, or with one older than backup.maxAgeHours, is
 * flagged: the warning pgBackRest users ask for. Sources no longer configured still show while backups
 * of them remain.
 */
export async function backupStatusWorkflow(input: BackupStatusInput = {}): Promise<{ checkedAt: string; kinds: BackupFreshness[] }> {
  parseInput(BackupStatusInputSchema, input);
  beginRun({ kind: 'backup-status', target: 'backups' });
  const topology = await probe.describeTopology();
  const now = workflowInfo().runStartTime;
  const rows = await collectBackupFreshness(topology, now);
  return { checkedAt: now.toISOString(), kinds: rows };
}

/**
 * One row per source of each backup kind, and the drill row: what `backupStatusWorkflow` reports and the
 * health patrol's backup-stale rule reads.
 */
export async function collectBackupFreshness(topology: TopologyView, now: Date): Promise<BackupFreshness[]> {
  const { backup } = topology;
  const rows: BackupFreshness[] = [];
  for (const kind of allBackupKinds) {
    const listing = await storage.listBackups(kind);
    // `?.`: a topology recorded before sources were part of it (replayed history) names none.
    const expected = backup.sources?.[kind] ?? [];
    const sources: (string | null)[] = [...new Set([...expected, ...listing.complete.map((m) => m.source)])];
    if (sources.length === 0) sources.push(null);
    for (const source of sources) {
      const ofSource = listing.complete.filter((m) => source === null || m.source === source);
      const newest = [...ofSource].sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt))[0];
      const ageHours = newest ? Math.round(((now.getTime() - Date.parse(newest.finishedAt)) / 3_600_000) * 10) / 10 : null;
      const stale = ageHours === null || ageHours > backup.maxAgeHours;
      rows.push({
        kind,
        source,
        latest: newest ? { id: newest.id, finishedAt: newest.finishedAt, size: newest.object.size } : null,
        ageHours,
        complete: ofSource.length,
        incomplete: listing.incomplete.length,
        stale,
        ...(stale
          ? { problem: ageHours === null ? 'no complete backup' : `newest is ${ageHours} h old, over ${backup.maxAgeHours} h` }
          : {}),
      });
    }
  }
  // patched: runs recorded before drills existed replay without this row.
  if (patched('drill-freshness') && topology.restore) rows.push(await drillFreshness(now, topology.restore.maxDrillAgeDays));
  return rows;
}

/** The drill row: when a restore drill last passed; stale when none did within `maxAgeDays`. */
async function drillFreshness(now: Date, maxAgeDays: number): Promise<BackupFreshness> {
  const { latest, latestPassed } = await storage.latestDrills();
  const ageHours = latestPassed ? Math.round(((now.getTime() - Date.parse(latestPassed.finishedAt)) / 3_600_000) * 10) / 10 : null;
  const stale = ageHours === null || ageHours > maxAgeDays * 24;
  const lastFailed = latest && !latest.ok ? `; the last drill, ${latest.drillId}, failed` : '';
  return {
    kind: 'drill',
    source: 'restore drills',
    latest: latestPassed ? { id: latestPassed.drillId, finishedAt: latestPassed.finishedAt, size: 0 } : null,
    ageHours,
    complete: latestPassed ? 1 : 0,
    incomplete: 0,
    stale,
    ...(stale
      ? { problem: `${ageHours === null ? 'no successful restore drill' : `no successful restore drill in ${maxAgeDays} days`}${lastFailed}` }
      : {}),
  };
}
