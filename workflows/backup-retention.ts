import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { BackupRetentionInputSchema, type BackupRetentionInput } from './inputs';
import { planIncompleteCleanup, planRetention, type RetentionDecision } from './retention-policy';
import { parseInput } from './validate-input';
import { allBackupKinds } from '../inventory/backup-catalog';

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
  const { kinds, dryRun, incompleteGraceHours } = parseInput(BackupRetentionInputSchema, input);
  const { backup } = await probe.describeTopology();
  const now = workflowInfo().runStartTime;
  const graceHours = incompleteGraceHours ?? backup.retention.incompleteGraceHours;
  const report: RetentionReport = { dryRun, kinds: [], deleted: 0, walPruned: [] };

  for (const kind of kinds ?? allBackupKinds) {
    const listing = await storage.listBackups(kind);
    const complete = planRetention(listing.complete, backup.retention[kind], now);
    const incomplete = planIncompleteCleanup(listing.incomplete, graceHours, now);
    let abortedUploads: string[] = [];
    if (!dryRun) {
      for (const decision of [...complete, ...incomplete].filter((d) => d.action === 'delete')) {
        await storage.deleteBackup({ kind, id: decision.id });
        report.deleted += 1;
      }
      abortedUploads = await storage.abortAbandonedUploads({ kind, olderThanHours: graceHours });
    }
    report.kinds.push({ kind, complete, incomplete, abortedUploads });
    if (kind === 'basebackup') {
      // WAL is kept from the oldest retained base backup on: every moment since it stays restorable.
      const kept = listing.complete.filter((m) => complete.some((d) => d.id === m.id && d.action === 'keep'));
      const starts = kept.map((m) => (m.details as { startSegment?: string }).startSegment).filter((s): s is string => Boolean(s));
      if (starts.length > 0) report.walPruned = await storage.pruneWalBefore({ segment: starts.sort()[0], dryRun });
    }
  }
  return report;
}
