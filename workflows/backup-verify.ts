import { ApplicationFailure, patched, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { VerifyResult } from '../activities/backup-catalog';
import { ActivityPresets } from './activity-options';
import { newestFirst } from './backup-choice';
import { ErrorType } from './error-types';
import { BackupVerifyInputSchema, type BackupVerifyInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';
import { allBackupKinds, BackupKind } from '../inventory/backup-catalog';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const transfer = proxyActivities<SharedActivities>(ActivityPresets.transfer);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface VerifyReport {
  checked: number;
  results: VerifyResult[];
}

/**
 * Re-reads stored backups and checks each against its manifest (size and SHA-256), and, with base
 * backups, the WAL archive they need (no hole from the oldest base backup on, each segment's SHA-256).
 * Fails, with the report as details, if anything is missing or altered, so a scheduled run shows red in the UI.
 */
export async function backupVerifyWorkflow(input: BackupVerifyInput = {}): Promise<VerifyReport> {
  const { kinds, latestOnly } = parseInput(BackupVerifyInputSchema, input);
  const progress = beginRun({ kind: 'backup-verify', target: kinds?.join(',') ?? 'all' });
  const results: VerifyResult[] = [];
  const oldestBaseSegment: string[] = [];
  for (const kind of kinds ?? allBackupKinds) {
    const { complete } = await storage.listBackups(kind);
    const newest = newestFirst(complete);
    for (const manifest of latestOnly ? newest.slice(0, 1) : newest) {
      results.push(await progress.step(`verify ${kind}/${manifest.id}`, () => transfer.verifyBackupObject(manifest), (r) => (r.ok ? 'ok' : r.problem!)));
    }
    if (kind === BackupKind.basebackup && complete.length > 0) {
      oldestBaseSegment.push(...complete.map((m) => String(m.details.startSegment)).sort().slice(0, 1));
    }
  }
  // patched: runs started before WAL verification existed replay without it.
  const checksWal = patched('verify-wal-archive') && (kinds ?? allBackupKinds).includes(BackupKind.basebackup);
  if (checksWal && (await probe.describeTopology()).postgres?.walArchiveEnabled) {
    const walResults = await progress.step('verify the WAL archive', () => transfer.verifyWalArchive({ fromSegment: oldestBaseSegment[0] ?? null, newestOnly: latestOnly }));
    results.push(...walResults);
  }
  const report = { checked: results.length, results };
  const bad = results.filter((r) => !r.ok);
  if (bad.length > 0) {
    throw ApplicationFailure.create({
      message: `${bad.length} of ${results.length} checks failed: ${bad.map((r) => `${r.key}: ${r.problem}`).join('; ')}`,
      type: ErrorType.ChecksumMismatch,
      nonRetryable: true,
      details: [report],
    });
  }
  return report;
}
