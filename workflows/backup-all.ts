import { ApplicationFailure, executeChild, workflowInfo } from '@temporalio/workflow';
import type { BackupSummary } from './backup-manifest';
import { configBackupWorkflow } from './config-backup';
import { ErrorType } from './error-types';
import { rootMessage } from './failures';
import { BackupAllInputSchema, type BackupAllInput } from './inputs';
import { postgresBackupWorkflow, type BackupReport } from './postgres-backup';
import { redisBackupWorkflow } from './redis-backup';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

export interface BackupAllReport {
  backups: BackupSummary[];
  failed: { part: string; error: string }[];
}

/**
 * Every backup kind as child workflows, side by side; one failing does not stop the others. The
 * run fails (non-retryably, with the report as details) if any part failed, so a schedule shows it.
 */
export async function backupAllWorkflow(input: BackupAllInput = {}): Promise<BackupAllReport> {
  const { skip } = parseInput(BackupAllInputSchema, input);
  const progress = beginRun({ kind: 'backup-all', target: skip?.length ? `all but ${skip.join(',')}` : 'all' });
  const { workflowId } = workflowInfo();
  const parts: [string, () => Promise<BackupReport>][] = [
    ['postgres', () => executeChild(postgresBackupWorkflow, { workflowId: `${workflowId}/postgres`, args: [{}] })],
    ['redis', () => executeChild(redisBackupWorkflow, { workflowId: `${workflowId}/redis`, args: [{}] })],
    ['config', () => executeChild(configBackupWorkflow, { workflowId: `${workflowId}/config`, args: [{}] })],
  ];
  const chosen = parts.filter(([part]) => !skip?.includes(part as 'postgres' | 'redis' | 'config'));
  const results = await Promise.allSettled(chosen.map(([part, run]) => progress.step(`back up ${part} (child workflow)`, run)));
  const report: BackupAllReport = { backups: [], failed: [] };
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') report.backups.push(...result.value.backups);
    else report.failed.push({ part: chosen[i][0], error: rootMessage(result.reason) });
  });
  if (report.failed.length > 0) {
    throw ApplicationFailure.create({
      message: `backup failed for ${report.failed.map((f) => `${f.part} (${f.error})`).join('; ')}`,
      type: ErrorType.PartialFailure,
      nonRetryable: true,
      details: [report],
    });
  }
  return report;
}
