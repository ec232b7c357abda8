import { Context } from '@temporalio/activity';
import { backupObjectKey, walSegmentName, type StoredObject } from '../inventory/backup-catalog';
import { spawnPiped, toolVersions } from './child-process';
import { compress, compressionExtension, type CompressionMethod } from './compression';
import type { ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { connectToNode, postgresSettings } from './postgres-connection';
import { createS3Client, storageSettings } from './storage-client';
import { abortStaleUploads, startUpload } from './stream-upload';

export interface BaseBackupResult {
  object: StoredObject;
  rawSize: number;
  compression: CompressionMethod;
  source: string;
  startedAt: string;
  finishedAt: string;
  timeline: number;
  startLsn: string;
  endLsn: string;
  /** First and last WAL segments a restore of this base backup needs from the archive. */
  startSegment: string;
  endSegment: string;
  tools: Record<string, string>;
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
      const s3 = createS3Client(deps);
      try {
        return await withProgressHeartbeat(
          () => ({ phase: rawBytes ? 'done' : 'copying' }),
          async () => {
            await abortStaleUploads(s3, bucket, key);
            const base = spawnPiped(
              'pg_basebackup',
              ['-h', node.address, '-p', String(node.port), '-U', pg.user, '--no-password', '-D', '-', '-Ft', '-X', 'none', '-c', 'fast', '-v'],
              { ...process.env, PGPASSWORD: deps.secret(pg.passwordEnv, 'postgres.passwordEnv') },
            );
            base.child.stdin.end();
            const compressed = compress({ stdoutOf: base.child.stdout }, deps.inventory.backup.compression);
            const upload = startUpload({ s3, bucket, key, source: compressed.output, signal: Context.current().cancellationSignal });
            const [, , stored] = await Promise.all([base.exited, compressed.done, upload.done]);
            rawBytes = compressed.rawBytes();
            const log = base.stderr();
            const start = /write-ahead log start point: ([0-9A-F]+\/[0-9A-F]+) on timeline (\d+)/.exec(log);
            const end = /write-ahead log end point: ([0-9A-F]+\/[0-9A-F]+)/.exec(log);
            if (!start || !end) throw new Error(`pg_basebackup did not report its WAL start and end points: ${log.slice(-500)}`);
            const timeline = Number(start[2]);
            await switchWal(deps);
            return {
              object: { key, size: stored.size, sha256: stored.sha256 },
              rawSize: rawBytes,
              compression: method,
              source: `postgres://${node.name}`,
              startedAt,
              finishedAt: new Date().toISOString(),
              timeline,
              startLsn: start[1],
              endLsn: end[1],
              startSegment: walSegmentName(timeline, start[1]),
              endSegment: walSegmentName(timeline, end[1]),
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

/** Closes the current WAL segment, so the archiver receives the one holding the backup's end point. */
async function switchWal(deps: ActivityDeps): Promise<void> {
  const node = postgresSettings(deps.inventory).nodes.find((n) => n.role === 'primary')!;
  const client = await connectToNode(deps, node);
  try {
    await client.query('SELECT pg_switch_wal()');
  } finally {
    await client.end();
  }
}
