import type { Inventory } from './schema';

/**
 * Where backups live in the bucket and what their manifests say. Pure module: workflows plan with
 * it, activities read and write with it.
 *
 *   <storage.prefix><backup.prefix><kind>/<backupId>/data.<ext>
 *   <storage.prefix><backup.prefix><kind>/<backupId>/manifest.json   ← written last; makes it exist
 */
export const BackupKind = {
  postgres: 'postgres',
  basebackup: 'basebackup',
  redis: 'redis',
  config: 'config',
} as const;
export type BackupKind = (typeof BackupKind)[keyof typeof BackupKind];
export const allBackupKinds = Object.values(BackupKind);

export const manifestFileName = 'manifest.json';

/** Archived WAL segments: `<storage.prefix><backup.prefix>wal/<segment name>.zst`, flat, sorted by position. */
export function walKeyPrefix(inventory: Inventory): string {
  return `${inventory.storage?.prefix ?? ''}${inventory.backup.prefix}wal/`;
}

/** The name of the 16 MiB WAL segment holding `lsn` ("0/3000148") on `timeline`. */
export function walSegmentName(timeline: number, lsn: string): string {
  const [high, low] = lsn.split('/').map((part) => parseInt(part, 16));
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${hex(timeline)}${hex(high)}${hex(Math.floor(low / 0x1000000))}`;
}

export function backupKindPrefix(inventory: Inventory, kind: BackupKind): string {
  return `${inventory.storage?.prefix ?? ''}${inventory.backup.prefix}${kind}/`;
}

export function backupObjectKey(inventory: Inventory, kind: BackupKind, backupId: string, file: string): string {
  return `${backupKindPrefix(inventory, kind)}${backupId}/${file}`;
}

/**
 * A sortable, unique id: `<subject>-<UTC time>-<run suffix>`, e.g. `tego_engine-20261204T020000Z-9c1f2e`.
 * The suffix (from the workflow's run id) keeps two runs in the same second apart.
 */
export function backupId(subject: string, at: Date, runId: string): string {
  const stamp = at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${subject}-${stamp}-${runId.replace(/-/g, '').slice(-6)}`;
}

export interface StoredObject {
  key: string;
  /** Bytes as stored (compressed, encrypted). */
  size: number;
  /** SHA-256 of the stored bytes, hex; computed while uploading. */
  sha256: string;
}

/** What every backup activity returns; its kind adds facts of its own. */
export interface StoredBackup {
  object: StoredObject;
  /** Bytes before compression and encryption. */
  rawSize: number;
  compression: 'zstd' | 'gzip' | 'none';
  /** What was backed up, e.g. `postgres://pg1/tego_engine`. */
  source: string;
  startedAt: string;
  finishedAt: string;
  tools: Record<string, string>;
}

/** Everything needed to trust, verify and restore one backup. */
export interface BackupManifest {
  formatVersion: 1;
  kind: BackupKind;
  id: string;
  /** What was backed up, e.g. `postgres://pg1/tego_engine`. */
  source: string;
  startedAt: string;
  finishedAt: string;
  object: StoredObject;
  /** Bytes before compression and encryption. */
  rawSize: number;
  compression: 'zstd' | 'gzip' | 'none';
  encryption: { algorithm: 'aes-256-gcm'; keyId: string } | null;
  /** Versions of the tools that made it, so a restore can pick compatible ones. */
  tools: Record<string, string>;
  /** Kind-specific facts: LSN and snapshot, per-table row counts, key count, file list. */
  details: Record<string, unknown>;
  /** Who ran it: workflow id and run id. */
  createdBy: { workflowId: string; runId: string };
}
