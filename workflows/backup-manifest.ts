import type { BaseBackupResult } from '../activities/base-backup';
import type { ConfigBackupResult } from '../activities/config-backup';
import type { DumpDatabaseResult } from '../activities/postgres-backup';
import type { RedisBackupResult } from '../activities/redis-backup';
import type { BackupKind, BackupManifest, StoredBackup } from '../inventory/backup-catalog';
import { formatBytes } from './health-report';

/**
 * Manifests: written after the object they describe, and the proof a backup is complete.
 * Pure functions of what the backup activities returned.
 */
type CreatedBy = BackupManifest['createdBy'];

function manifest(
  kind: BackupKind,
  id: string,
  stored: StoredBackup,
  createdBy: CreatedBy,
  details: Record<string, unknown>,
  encryption: BackupManifest['encryption'] = null,
): BackupManifest {
  const { source, startedAt, finishedAt, object, rawSize, compression, tools } = stored;
  return { formatVersion: 1, kind, id, source, startedAt, finishedAt, object, rawSize, compression, encryption, tools, details, createdBy };
}

export function postgresDumpManifest(id: string, dump: DumpDatabaseResult, createdBy: CreatedBy): BackupManifest {
  const { serverVersion, snapshot, lsn, rowCounts } = dump;
  return manifest('postgres', id, dump, createdBy, { format: 'pg_dump custom', serverVersion, snapshot, lsn, rowCounts });
}

export function redisManifest(id: string, backup: RedisBackupResult, createdBy: CreatedBy): BackupManifest {
  const { redisVersion, lastSave, keys } = backup;
  return manifest('redis', id, backup, createdBy, { format: 'rdb', redisVersion, lastSave, keys });
}

export function configManifest(id: string, backup: ConfigBackupResult, createdBy: CreatedBy): BackupManifest {
  const { paths, files, keyId } = backup;
  return manifest('config', id, backup, createdBy, { format: 'tar', paths, files }, { algorithm: 'aes-256-gcm', keyId });
}

export function baseBackupManifest(id: string, backup: BaseBackupResult, createdBy: CreatedBy): BackupManifest {
  const { timeline, startLsn, endLsn, startSegment, endSegment } = backup;
  return manifest('basebackup', id, backup, createdBy, {
    format: 'pg_basebackup tar',
    timeline,
    startLsn,
    endLsn,
    startSegment,
    endSegment,
  });
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

/** A progress line for a stored object: "522 MiB stored (1.3 GiB raw)". */
export function describeStored(backup: StoredBackup): string {
  return `${formatBytes(backup.object.size)} stored (${formatBytes(backup.rawSize)} raw)`;
}
