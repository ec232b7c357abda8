import type { BaseBackupResult } from '../activities/base-backup';
import type { ConfigBackupResult } from '../activities/config-backup';
import type { DumpDatabaseResult } from '../activities/postgres-backup';
import type { RedisBackupResult } from '../activities/redis-backup';
import type { BackupManifest } from '../inventory/backup-catalog';

/**
 * Manifests: written after the object they describe, and the proof a backup is complete.
 * Pure functions of what the backup activities returned.
 */
type CreatedBy = BackupManifest['createdBy'];

export function postgresDumpManifest(id: string, dump: DumpDatabaseResult, createdBy: CreatedBy): BackupManifest {
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

export function redisManifest(id: string, backup: RedisBackupResult, createdBy: CreatedBy): BackupManifest {
  return {
    formatVersion: 1,
    kind: 'redis',
    id,
    source: backup.source,
    startedAt: backup.startedAt,
    finishedAt: backup.finishedAt,
    object: backup.object,
    rawSize: backup.rawSize,
    compression: backup.compression,
    encryption: null,
    tools: backup.tools,
    details: { format: 'rdb', redisVersion: backup.redisVersion, lastSave: backup.lastSave, keys: backup.keys },
    createdBy,
  };
}

export function configManifest(id: string, backup: ConfigBackupResult, createdBy: CreatedBy): BackupManifest {
  return {
    formatVersion: 1,
    kind: 'config',
    id,
    source: backup.source,
    startedAt: backup.startedAt,
    finishedAt: backup.finishedAt,
    object: backup.object,
    rawSize: backup.rawSize,
    compression: 'gzip',
    encryption: { algorithm: 'aes-256-gcm', keyId: backup.keyId },
    tools: backup.tools,
    details: { format: 'tar', paths: backup.paths, files: backup.files },
    createdBy,
  };
}

export function baseBackupManifest(id: string, backup: BaseBackupResult, createdBy: CreatedBy): BackupManifest {
  return {
    formatVersion: 1,
    kind: 'basebackup',
    id,
    source: backup.source,
    startedAt: backup.startedAt,
    finishedAt: backup.finishedAt,
    object: backup.object,
    rawSize: backup.rawSize,
    compression: backup.compression,
    encryption: null,
    tools: backup.tools,
    details: {
      format: 'pg_basebackup tar',
      timeline: backup.timeline,
      startLsn: backup.startLsn,
      endLsn: backup.endLsn,
      startSegment: backup.startSegment,
      endSegment: backup.endSegment,
    },
    createdBy,
  };
}

/** One line of a backup report. */
export interface BackupSummary {
  kind: string;
  id: string;
  source: string;
  key: string;
  size: number;
  rawSize: number;
  sha256: string;
  seconds: number;
}

export function summarizeBackup(manifest: BackupManifest): BackupSummary {
  return {
    kind: manifest.kind,
    id: manifest.id,
    source: manifest.source,
    key: manifest.object.key,
    size: manifest.object.size,
    rawSize: manifest.rawSize,
    sha256: manifest.object.sha256,
    seconds: (Date.parse(manifest.finishedAt) - Date.parse(manifest.startedAt)) / 1000,
  };
}
