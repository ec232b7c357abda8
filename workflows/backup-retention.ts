import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { BackupRetentionInputSchema, type BackupRetentionInput } from './inputs';
import { planIncompleteCleanup, planRetention, type RetentionDecision } from './retention-policy';
import { parseInput } from './validate-input';

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
  const report: RetentionReport = { dryRun, kinds: [], deleted: 0 };

  for (const kind of kinds ?? (['postgres', 'redis', 'config'] as const)) {
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
  }
  return report;
}
