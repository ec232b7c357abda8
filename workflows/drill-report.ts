/**
 * What a restore drill found: written to the bucket (JSON and a short summary) and returned as the
 * workflow's result. Pure module: the workflow builds it, the catalog stores it, the CLI prints it.
 */
export interface DrillReport {
  drillId: string;
  /** The host whose worker ran the scratch copies. */
  host: string;
  startedAt: string;
  finishedAt: string;
  ok: boolean;
  /** Recovery time: from the drill's start to a verified, usable copy. */
  rtoSeconds: number | null;
  /** Recovery point: how old the restored data is (drill start − backup end, or − the PITR target). */
  rpoSeconds: number | null;
  postgres: {
    backupId: string;
    database: string;
    restoreSeconds: number;
    bytesRead: number;
    tables: number;
    rowMismatches: string[];
    assertions: { sql: string; ok: boolean; value: string }[];
  }[];
  pitr: { baseBackupId: string; targetTime: string; walSegments: number; assertions: { sql: string; ok: boolean; value: string }[] } | null;
  redis: { backupId: string; expectedKeys: number; keys: number } | null;
  /** Everything that failed, one line each; empty when ok. */
  problems: string[];
}

/** Row-count differences between a manifest and a restored copy: "public.users: 200 in the backup, 199 restored". */
export function compareRowCounts(expected: Record<string, number>, actual: Record<string, number>): string[] {
  const tables = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  return tables.flatMap((table) => {
    const want = expected[table];
    const got = actual[table];
    if (want === got) return [];
    if (want === undefined) return [`${table}: not in the backup's manifest, ${got} rows restored`];
    if (got === undefined) return [`${table}: ${want} rows in the backup, table missing after restore`];
    return [`${table}: ${want} rows in the backup, ${got} restored`];
  });
}

/** The report in a few lines, for people: stored beside the JSON and printed by the CLI. */
export function summarizeDrill(report: DrillReport): string {
  const lines = [
    `restore drill ${report.drillId} on ${report.host}: ${report.ok ? 'PASSED' : 'FAILED'}`,
    `RTO ${report.rtoSeconds ?? '-'} s, RPO ${report.rpoSeconds ?? '-'} s`,
    ...report.postgres.map(
      (p) => `postgres ${p.database} from ${p.backupId}: restored in ${p.restoreSeconds.toFixed(1)} s, ${p.tables} tables, ${p.rowMismatches.length === 0 ? 'row counts exact' : `${p.rowMismatches.length} row count mismatches`}, ${p.assertions.filter((a) => a.ok).length}/${p.assertions.length} assertions`,
    ),
    ...(report.pitr ? [`point-in-time ${report.pitr.targetTime} from ${report.pitr.baseBackupId} + ${report.pitr.walSegments} WAL segments`] : []),
    ...(report.redis ? [`redis from ${report.redis.backupId}: ${report.redis.keys} of ${report.redis.expectedKeys} keys`] : []),
    ...report.problems.map((p) => `problem: ${p}`),
  ];
  return `${lines.join('\n')}\n`;
}
