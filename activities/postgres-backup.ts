import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from 'pg';
import { backupSource, backupObjectKey, type StoredBackup, type StoredObject } from '../inventory/backup-catalog';
import type { PostgresNode } from '../inventory/schema';
import { ErrorType } from '../workflows/error-types';
import { spawnPiped, toolVersions } from './child-process';
import { compress, compressionExtension } from './compression';
import type { ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { connectToNode, postgresSettings } from './postgres-connection';
import { createS3Client, storageSettings } from './storage-client';
import { abortStaleUploads, startUpload } from './stream-upload';

export interface DumpDatabaseInput {
  database: string;
  backupId: string;
}

export interface DumpDatabaseResult extends StoredBackup {
  serverVersion: string;
  /** The exported snapshot the dump and the row counts share. */
  snapshot: string;
  /** WAL position when the snapshot was taken: the backup's point in time. */
  lsn: string;
  rowCounts: Record<string, number>;
}

/** What the activity heartbeats, and what the UI and `status` show of a running dump. */
export interface DumpProgress {
  phase: 'connecting' | 'counting rows' | 'dumping' | 'done';
  rawBytes: number;
  storedBytes: number;
}

export function createPostgresBackupActivities(deps: ActivityDeps) {
  return {
    /**
     * Dumps one database (pg_dump custom format, uncompressed) through the configured compressor
     * straight into a multipart upload: no temporary file, SHA-256 and sizes computed in the stream.
     * Row counts are taken in the same exported snapshot as the dump, so a restore can be checked
     * against them exactly. Safe to retry: each attempt first aborts what a dead one left behind.
     * @throws ApplicationFailure `DatabaseNotFound` (non-retryable) when the database does not exist
     */
    async dumpPostgresDatabase({ database, backupId }: DumpDatabaseInput): Promise<DumpDatabaseResult> {
      const pg = postgresSettings(deps.inventory);
      const node = pg.nodes.find((n) => n.role === 'primary')!;
      const { method } = deps.inventory.backup.compression;
      const { bucket } = storageSettings(deps);
      const key = backupObjectKey(deps.inventory, 'postgres', backupId, `${database}.dump${compressionExtension[method]}`);
      const startedAt = new Date().toISOString();
      const progress: DumpProgress = { phase: 'connecting', rawBytes: 0, storedBytes: 0 };
      const s3 = createS3Client(deps);
      let client: Client | undefined;
      try {
        return await withProgressHeartbeat(
          () => progress,
          async () => {
            await abortStaleUploads(s3, bucket, key);
            client = await connectToDatabase(deps, node, database);
            const snapshot = await exportSnapshot(client);
            progress.phase = 'counting rows';
            const rowCounts = await countRows(client);
            progress.phase = 'dumping';
            const { object, rawSize } = await streamDump({ deps, node, database, snapshot, s3, bucket, key, progress });
            progress.phase = 'done';
            return {
              object,
              rawSize,
              compression: method,
              source: backupSource.postgres(node.name, database),
              startedAt,
              finishedAt: new Date().toISOString(),
              serverVersion: snapshot.serverVersion,
              snapshot: snapshot.id,
              lsn: snapshot.lsn,
              rowCounts,
              tools: await toolVersions(['pg_dump'], method),
            };
          },
        );
      } finally {
        if (client) await client.end().catch(() => undefined);
        s3.destroy();
      }
    },
  };
}

async function connectToDatabase(deps: ActivityDeps, node: PostgresNode, database: string): Promise<Client> {
  try {
    return await connectToNode(deps, node, { database, timeoutMs: 10_000 });
  } catch (err) {
    if ((err as { code?: string }).code === '3D000') {
      throw ApplicationFailure.nonRetryable(
        `database "${database}" does not exist on ${node.name} (${node.address}:${node.port})`,
        ErrorType.DatabaseNotFound,
      );
    }
    throw err;
  }
}

/**
 * Opens a read-only repeatable-read transaction and exports its snapshot; pg_dump joins it with
 * --snapshot, so the row counts and the dump see exactly the same data. The transaction stays open
 * until the connection ends, after the dump.
 */
async function exportSnapshot(client: Client): Promise<{ id: string; lsn: string; serverVersion: string; databaseBytes: number }> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  await client.query('SET LOCAL statement_timeout = 0');
  const { rows } = await client.query<{ id: string; lsn: string; server_version: string; database_bytes: string }>(
    `SELECT pg_export_snapshot() AS id, pg_current_wal_lsn()::text AS lsn,
            current_setting('server_version') AS server_version,
            pg_database_size(current_database()) AS database_bytes`,
  );
  const [row] = rows;
  return { id: row.id, lsn: row.lsn, serverVersion: row.server_version, databaseBytes: Number(row.database_bytes) };
}

/** Exact row count of every user table, keyed `schema.table`. */
export async function countRows(client: Client): Promise<Record<string, number>> {
  const { rows: tables } = await client.query<{ name: string }>(
    `SELECT format('%I.%I', n.nspname, c.relname) AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
        AND n.nspname NOT LIKE 'pg_toast%'
      ORDER BY 1`,
  );
  const counts: Record<string, number> = {};
  for (const { name } of tables) {
    const { rows } = await client.query<{ count: string }>(`SELECT count(*) AS count FROM ${name}`);
    counts[name] = Number(rows[0].count);
  }
  return counts;
}

/** pg_dump → byte meter → compressor → multipart upload, all streaming. */
async function streamDump(options: {
  deps: ActivityDeps;
  node: PostgresNode;
  database: string;
  snapshot: { id: string; databaseBytes: number };
  s3: S3Client;
  bucket: string;
  key: string;
  progress: DumpProgress;
}): Promise<{ object: StoredObject; rawSize: number }> {
  const { deps, node, database, s3, bucket, key, progress } = options;
  const pg = postgresSettings(deps.inventory);
  const dump = spawnPiped(
    'pg_dump',
    ['-Fc', '-Z0', '--no-password', '--snapshot', options.snapshot.id, '-h', node.address, '-p', String(node.port), '-U', pg.user, '-d', database],
    { ...process.env, PGPASSWORD: deps.secret(pg.passwordEnv, 'postgres.passwordEnv') },
  );
  dump.child.stdin.end();
  const compressed = compress({ stdoutOf: dump.child.stdout }, deps.inventory.backup.compression);
  const signal = Context.current().cancellationSignal;
  // A dump is rarely larger than the database itself; the guess only sizes the upload's parts.
  const upload = startUpload({ s3, bucket, key, source: compressed.output, signal, expectedBytes: options.snapshot.databaseBytes });
  const meters = setInterval(() => {
    progress.storedBytes = upload.meter.bytes;
  }, 1000);
  try {
    const [, , stored] = await Promise.all([dump.exited, compressed.done, upload.done]);
    progress.rawBytes = compressed.rawBytes();
    progress.storedBytes = stored.size;
    return { object: { key, size: stored.size, sha256: stored.sha256 }, rawSize: compressed.rawBytes() };
  } catch (err) {
    dump.child.kill('SIGKILL');
    // The upload may have completed on a truncated stream before pg_dump's failure showed: remove it.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })).catch(() => undefined);
    throw err;
  } finally {
    clearInterval(meters);
  }
}
