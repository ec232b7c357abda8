import { patched, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { runChange, type Change } from './change-control';
import { BackupRetentionInputSchema, type BackupRetentionInput } from './inputs';
import { beginRun } from './run-labels';
import { planIncompleteCleanup, planRetention, type RetentionDecision } from './retention-policy';
import { parseInput } from './validate-input';
import { allBackupKinds, type BackupKind } from '../inventory/backup-catalog';
import type { TopologyView } from '../inventory/topology';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface RetentionReport {
  dryRun: boolean;
  kinds: {
    kind: string;
    complete: RetentionDecision[];
    incomplete: RetentionDecision[];
    abortedUploads: string[];
  }[];
  deleted: number;
  /** WAL segments older than the oldest retained base backup, deleted (or to be, with dryRun). */
  walPruned: string[];
}

/**
 * The guide's `find -mtime +30 -delete`, made safe: per kind, by age and by count, never below the
 * minimum-redundancy floor and never the newest complete backup; leftovers of failed attempts are
 * removed once past a grace period. With `dryRun` it only says what it would delete.
 */
export async function backupRetentionWorkflow(input: BackupRetentionInput = {}): Promise<RetentionReport> {
  const { kinds, dryRun, incompleteGraceHours, ...options } = parseInput(BackupRetentionInputSchema, input);
  const topology = await probe.describeTopology();
  const plan = { kinds: kinds ?? allBackupKinds, dryRun, graceHours: incompleteGraceHours ?? topology.backup.retention.incompleteGraceHours };
  const target = `bucket:${topology.storage?.bucket ?? '-'}`;
  // Runs recorded before change records existed replay without them.
  if (!patched('change-control')) return applyRetention(plan, topology.backup, unmanaged);
  // A dry run changes nothing: its steps are only logged, with no approval, window or record.
  if (dryRun) {
    const log = beginRun({ kind: 'backup-retention', target, summary: 'dry run' });
    return applyRetention(plan, topology.backup, { step: (name, run) => log.step(name, run), check: (name, run) => log.step(name, run) });
  }
  return runChange(
    { kind: 'backup-retention', target, input, options },
    (change) => applyRetention(plan, topology.backup, change),
    (report) => `deleted ${report.deleted} backups and ${report.walPruned.length} WAL segments`,
  );
}

/** Steps run as they come, unlogged: for runs recorded before change control. */
const unmanaged: Pick<Change, 'step' | 'check'> = { step: (_name, run) => run(), check: (_name, run) => run() };

async function applyRetention(
  plan: { kinds: BackupKind[]; dryRun: boolean; graceHours: number },
  settings: { retention: TopologyView['backup']['retention'] },
  change: Pick<Change, 'step' | 'check'>,
): Promise<RetentionReport> {
  const now = workflowInfo().runStartTime;
  const { dryRun, graceHours } = plan;
  const report: RetentionReport = { dryRun, kinds: [], deleted: 0, walPruned: [] };

  for (const kind of plan.kinds) {
    const listing = await change.check(`list ${kind} backups`, () => storage.listBackups(kind));
    const complete = planRetention(listing.complete, settings.retention[kind], now);
    const incomplete = planIncompleteCleanup(listing.incomplete, graceHours, now);
    let abortedUploads: string[] = [];
    if (!dryRun) {
      for (const decision of [...complete, ...incomplete].filter((d) => d.action === 'delete')) {
        // No undo: a deleted backup is gone; the plan never deletes the newest or goes below the floor.
        await change.step(`delete ${kind}/${decision.id}`, () => storage.deleteBackup({ kind, id: decision.id }));
        report.deleted += 1;
      }
      abortedUploads = await change.step(`abort ${kind} uploads older than ${graceHours} h`, () =>
        storage.abortAbandonedUploads({ kind, olderThanHours: graceHours }),
      );
    }
    report.kinds.push({ kind, complete, incomplete, abortedUploads });
    if (kind === 'basebackup') {
      // WAL is kept from the oldest retained base backup on: every moment since it stays restorable.
      const kept = listing.complete.filter((m) => complete.some((d) => d.id === m.id && d.action === 'keep'));
      const starts = kept.map((m) => (m.details as { startSegment?: string }).startSegment).filter((s): s is string => Boolean(s));
      if (starts.length > 0) {
        const pruneBefore = starts.sort()[0];
        report.walPruned = await change.step(`prune WAL before ${pruneBefore}`, () => storage.pruneWalBefore({ segment: pruneBefore, dryRun }));
      }
    }
  }
  return report;
}
