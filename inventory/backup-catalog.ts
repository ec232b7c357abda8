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

/**
 * What each kind of backup is taken of, named as its manifests' `source`: one name per database, per
 * host with config files, and so on. Freshness is judged per source, so one database that stopped being
 * backed up is not hidden by another that is.
 */
export const backupSource = {
  postgres: (node: string, database: string) => `postgres://${node}/${database}`,
  basebackup: (node: string) => `postgres://${node}`,
  redis: (address: string, port: number) => `redis://${address}:${port}`,
  config: (host: string) => `files://${host}`,
};

export function expectedBackupSources(inventory: Inventory): Record<BackupKind, string[]> {
  const pg = inventory.postgres;
  const primary = pg?.nodes.find((n) => n.role === 'primary');
  return {
    postgres: pg && primary ? (pg.databases ?? [pg.database]).map((db) => backupSource.postgres(primary.name, db)) : [],
    basebackup: primary && inventory.backup.walArchive.enabled ? [backupSource.basebackup(primary.name)] : [],
    redis: inventory.redis ? [backupSource.redis(inventory.redis.address, inventory.redis.port)] : [],
    config: inventory.backup.configPaths.map((entry) => backupSource.config(entry.host)),
  };
}

/** Restore drill reports: `<storage.prefix><backup.prefix>drills/<drillId>/report.json` (and summary.txt). */
/** Where the daily inspection's reports go: `inspections/<id>/report.json` and `report.md`. */
export function inspectionKeyPrefix(inventory: Inventory): string {
  return `${inventory.storage?.prefix ?? ''}${inventory.backup.prefix}inspections/`;
}

export function drillKeyPrefix(inventory: Inventory): string {
  return `${inventory.storage?.prefix ?? ''}${inventory.backup.prefix}drills/`;
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

/** A WAL segment's position in the stream, ignoring its timeline: log * 256 + segment (16 MiB segments). */
function walSegmentPosition(name: string): number {
  return parseInt(name.slice(8, 16), 16) * 0x100 + parseInt(name.slice(16, 24), 16);
}

function walSegmentAt(timeline: string, position: number): string {
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(8, '0');
  return `${timeline}${hex(Math.floor(position / 0x100))}${hex(position % 0x100)}`;
}

/**
 * Holes in an archived WAL chain from `from` to the newest segment: each a range of positions for which no
 * segment (on any timeline) was archived. A restore cannot replay across a hole, so any hole after the
 * oldest base backup breaks point-in-time recovery from there on. Segments before `from` are ignored.
 * @returns ranges as "first..last" segment names (on `from`'s timeline), empty if the chain is whole
 */
export function findWalGaps(segments: string[], from: string): string[] {
  const start = walSegmentPosition(from);
  const present = new Set(segments.filter((s) => /^[0-9A-F]{24}$/.test(s)).map(walSegmentPosition));
  const newest = Math.max(start, ...present);
  const timeline = from.slice(0, 8);
  const gaps: string[] = [];
  for (let position = start; position <= newest; position++) {
    if (present.has(position)) continue;
    let last = position;
    while (last + 1 <= newest && !present.has(last + 1)) last++;
    gaps.push(`${walSegmentAt(timeline, position)}..${walSegmentAt(timeline, last)}`);
    position = last;
  }
  return gaps;
}
