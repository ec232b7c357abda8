import type { DumpDatabaseResult } from '../activities/postgres-backup';
import type { BackupManifest } from '../inventory/backup-catalog';

/** The manifest of a PostgreSQL dump: written after the object, and the proof it is complete. */
export function postgresDumpManifest(
  id: string,
  dump: DumpDatabaseResult,
  createdBy: BackupManifest['createdBy'],
): BackupManifest {
  return {
    formatVersion: 1,
    kind: 'postgres',
    id,
    source: dump.source,
    startedAt: dump.startedAt,
    finishedAt: dump.finishedAt,
    object: dump.object,
    rawSize: dump.rawSize,
    compression: dump.compression,
    encryption: null,
    tools: dump.tools,
    details: {
      format: 'pg_dump custom',
      serverVersion: dump.serverVersion,
      snapshot: dump.snapshot,
      lsn: dump.lsn,
      rowCounts: dump.rowCounts,
    },
    createdBy,
  };
}
