import type { BackupFreshness } from '../workflows/backup-status';
import type { BackupSummary } from '../workflows/backup-manifest';
import type { RetentionReport } from '../workflows/backup-retention';
import type { VerifyReport } from '../workflows/backup-verify';
import { formatBytes as formatSize } from '../workflows/health-report';
import { formatTable } from './format-table';

export function formatBackups(backups: BackupSummary[]): string {
  return formatTable(
    ['KIND', 'ID', 'SOURCE', 'STORED', 'RAW', 'SECONDS'],
    backups.map((b) => [b.kind, b.id, b.source, formatSize(b.size), formatSize(b.rawSize), b.seconds.toFixed(1)]),
  );
}

export function formatFreshness(kinds: BackupFreshness[]): string {
  return formatTable(
    ['KIND', 'SOURCE', 'LATEST', 'AGE', 'COMPLETE', 'INCOMPLETE', 'STATUS'],
    kinds.map((k) => [
      k.kind,
      k.source ?? '-',
      k.latest?.id ?? '-',
      k.ageHours === null ? '-' : `${k.ageHours} h`,
      String(k.complete),
      String(k.incomplete),
      k.stale ? `STALE: ${k.problem}` : 'ok',
    ]),
  );
}

export function formatRetention(report: RetentionReport): string {
  const rows = report.kinds.flatMap((k) =>
    [...k.complete, ...k.incomplete]
      .filter((d) => d.action === 'delete')
      .map((d) => [k.kind, d.id, report.dryRun ? 'would delete' : 'deleted', d.reason]),
  );
  const total = rows.length;
  return rows.length === 0
    ? 'nothing to delete'
    : `${formatTable(['KIND', 'ID', 'ACTION', 'WHY'], rows)}\n\n${total} backup(s) ${report.dryRun ? 'would be' : 'were'} deleted`;
}

export function formatVerify(report: VerifyReport): string {
  return formatTable(
    ['KIND', 'ID', 'RESULT'],
    report.results.map((r) => [r.kind, r.id, r.ok ? 'ok' : `MISMATCH: ${r.problem}`]),
  );
}
