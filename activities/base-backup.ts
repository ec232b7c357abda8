import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import { extract } from 'tar-stream';
import { backupSource, backupObjectKey, walSegmentName, type StoredBackup } from '../inventory/backup-catalog';
import { spawnPiped, toolVersions } from './child-process';
import { compress, compressionExtension } from './compression';
import type { ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { connectToNode, postgresSettings } from './postgres-connection';
import { createS3Client, storageSettings } from './storage-client';
import { abortStaleUploads, startUpload } from './stream-upload';

export interface BaseBackupResult extends StoredBackup {
  timeline: number;
  startLsn: string;
  endLsn: string;
  /** First and last WAL segments a restore of this base backup needs from the archive. */
  startSegment: string;
  endSegment: string;
}

export function createBaseBackupActivities(deps: ActivityDeps) {
  return {
    /**
     * A physical base backup (pg_basebackup, tar format, to stdout) streamed through compression into
     * the bucket. It carries no WAL of its own (-X none): the WAL archive holds what it needs, from
     * its start to its end point, which the manifest records. A WAL switch afterwards completes the
     * end segment so the archive receives it at once.
     */
    async takeBaseBackup({ backupId }: { backupId: string }): Promise<BaseBackupResult> {
      const pg = postgresSettings(deps.inventory);
      const node = pg.nodes.find((n) => n.role === 'primary')!;
      const { method } = deps.inventory.backup.compression;
      const { bucket } = storageSettings(deps);
      const key = backupObjectKey(deps.inventory, 'basebackup', backupId, `base.tar${compressionExtension[method]}`);
      const startedAt = new Date().toISOString();
      let rawBytes = 0;
      let upload: ReturnType<typeof startUpload> | undefined;
      const s3 = createS3Client(deps);
      try {
        return await withProgressHeartbeat(
          () => ({ phase: rawBytes ? 'done' : 'streaming', storedBytes: upload?.meter.bytes ?? 0 }),
          async () => {
            await abortStaleUploads(s3, bucket, key);
            const clusterBytes = await onPrimary(deps, 'SELECT sum(pg_database_size(datname))::text AS v FROM pg_database');
            const base = spawnPiped(
              'pg_basebackup',
              ['-h', node.address, '-p', String(node.port), '-U', pg.user, '--no-password', '-D', '-', '-Ft', '-X', 'none', '-c', 'fast'],
              { ...process.env, PGPASSWORD: deps.secret(pg.passwordEnv, 'postgres.passwordEnv') },
            );
            base.child.stdin.end();
            // The tar ends with backup_manifest, whose WAL-Ranges say which WAL a restore needs:
            // one branch of the stream is compressed and uploaded, the other read for that entry.
            const toStore = new PassThrough();
            const toInspect = new PassThrough();
            base.child.stdout.pipe(toStore);
            base.child.stdout.pipe(toInspect);
            const compressed = compress({ stream: toStore }, deps.inventory.backup.compression);
            upload = startUpload({
              s3,
              bucket,
              key,
              source: compressed.output,
              signal: Context.current().cancellationSignal,
              expectedBytes: Number(clusterBytes),
            });
            const [, , stored, walRange] = await Promise.all([base.exited, compressed.done, upload.done, readWalRange(toInspect)]);
            rawBytes = compressed.rawBytes();
            const { timeline, startLsn, endLsn } = walRange;
            // Closes the current WAL segment, so the archiver receives the one holding the backup's end point.
            await onPrimary(deps, 'SELECT pg_switch_wal()::text AS v');
            return {
              object: { key, size: stored.size, sha256: stored.sha256 },
              rawSize: rawBytes,
              compression: method,
              source: backupSource.basebackup(node.name),
              startedAt,
              finishedAt: new Date().toISOString(),
              timeline,
              startLsn,
              endLsn,
              startSegment: walSegmentName(timeline, startLsn),
              endSegment: walSegmentName(timeline, endLsn),
              tools: await toolVersions(['pg_basebackup'], method),
            };
          },
        );
      } finally {
        s3.destroy();
      }
    },
  };
}

/** Reads the WAL range from the backup_manifest entry of a pg_basebackup tar stream. */
async function readWalRange(tar: Readable): Promise<{ timeline: number; startLsn: string; endLsn: string }> {
  const entries = extract();
  let manifest = '';
  entries.on('entry', (header, stream, next) => {
    if (header.name === 'backup_manifest') stream.on('data', (chunk: unknown) => (manifest += String(chunk)));
    else stream.resume();
    stream.on('end', next);
  });
  await pipeline(tar, entries);
  const ranges = (JSON.parse(manifest || '{}') as { 'WAL-Ranges'?: { Timeline: number; 'Start-LSN': string; 'End-LSN': string }[] })['WAL-Ranges'];
  if (!ranges?.length) throw new Error('the base backup carries no backup_manifest with WAL-Ranges');
  const last = ranges[ranges.length - 1];
  return { timeline: last.Timeline, startLsn: ranges[0]['Start-LSN'], endLsn: last['End-LSN'] };
}

/** Runs one query on the primary, returning the single value it selects as `v`. */
async function onPrimary(deps: ActivityDeps, query: string): Promise<string> {
  const node = postgresSettings(deps.inventory).nodes.find((n) => n.role === 'primary')!;
  const client = await connectToNode(deps, node);
  try {
    return (await client.query<{ v: string }>(query)).rows[0].v;
  } finally {
    await client.end();
  }
}
