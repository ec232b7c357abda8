import { createWriteStream } from 'node:fs';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Context } from '@temporalio/activity';
import type Redis from 'ioredis';
import { backupSource, backupObjectKey, type StoredBackup } from '../inventory/backup-catalog';
import { spawnPiped, toolVersions } from './child-process';
import { compress, compressionExtension } from './compression';
import { assertLocalHost, type ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { connectRedis, parseRedisInfo } from './redis';
import { createS3Client, storageSettings } from './storage-client';
import { abortStaleUploads, startUpload } from './stream-upload';

export interface RedisBackupResult extends StoredBackup {
  redisVersion: string;
  /** LASTSAVE of the snapshot taken: its point in time (Unix seconds). */
  lastSave: number;
  /** Keys in the RDB file, as redis-check-rdb read them: what a restore must find. */
  keys: number;
}

interface Persistence {
  inProgress: boolean;
  lastSave: number;
  saves: number | null;
  lastStatus: string;
}

/** How long one BGSAVE may take before the activity gives up (and Temporal retries it). */
const bgsaveDeadlineMs = 30 * 60 * 1000;

export function createRedisBackupActivities(deps: ActivityDeps) {
  return {
    /**
     * BGSAVE, then wait until that save has really finished — not in progress, the save counter
     * (or LASTSAVE) advanced past its value before BGSAVE, last status ok; the guide's loop compared
     * LASTSAVE with itself and never waited. Then copy the RDB, check it with redis-check-rdb (which
     * also counts its keys), compress and upload it. Runs on the Redis host: the file is local there.
     */
    async backupRedis({ backupId }: { backupId: string }): Promise<RedisBackupResult> {
      const settings = deps.inventory.redis;
      if (!settings) throw new Error('the inventory has no redis section');
      assertLocalHost(deps, settings.host);
      const startedAt = new Date().toISOString();
      const progress = { phase: 'saving', storedBytes: 0 };
      const work = await mkdtemp(join(tmpdir(), 'tego-redis-'));
      const redis = await connectRedis(deps, 10_000);
      try {
        return await withProgressHeartbeat(
          () => progress,
          async () => {
            const { version, lastSave } = await snapshotWithBgsave(redis);
            progress.phase = 'copying';
            const rdb = join(work, 'dump.rdb');
            await copyRdb(deps, redis, rdb);
            const keys = await checkRdb(rdb);
            progress.phase = 'uploading';
            const { method } = deps.inventory.backup.compression;
            const { bucket } = storageSettings(deps);
            const key = backupObjectKey(deps.inventory, 'redis', backupId, `dump.rdb${compressionExtension[method]}`);
            const s3 = createS3Client(deps);
            try {
              await abortStaleUploads(s3, bucket, key);
              const compressed = compress({ file: rdb }, deps.inventory.backup.compression);
              const upload = startUpload({ s3, bucket, key, source: compressed.output, signal: Context.current().cancellationSignal });
              const [, stored] = await Promise.all([compressed.done, upload.done]);
              progress.storedBytes = stored.size;
              return {
                object: { key, size: stored.size, sha256: stored.sha256 },
                rawSize: (await stat(rdb)).size,
                compression: method,
                source: backupSource.redis(settings.address, settings.port),
                startedAt,
                finishedAt: new Date().toISOString(),
                redisVersion: version,
                lastSave,
                keys,
                tools: await toolVersions(['redis-check-rdb'], method),
              };
            } finally {
              s3.destroy();
            }
          },
          1000,
        );
      } finally {
        redis.disconnect();
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}

async function persistence(redis: Redis): Promise<Persistence & { version: string }> {
  const info = parseRedisInfo(await redis.info());
  return {
    inProgress: info.rdb_bgsave_in_progress === '1',
    lastSave: Number(await redis.lastsave()),
    saves: info.rdb_saves === undefined ? null : Number(info.rdb_saves),
    lastStatus: info.rdb_last_bgsave_status ?? 'unknown',
    version: info.redis_version ?? 'unknown',
  };
}

/** Polls a condition with a deadline; the gate that replaces the guide's `sleep`. */
async function gate(what: string, deadlineMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function snapshotWithBgsave(redis: Redis): Promise<{ version: string; lastSave: number }> {
  // A save someone else started must finish first: ours would be refused, and theirs is not ours.
  await gate('a running BGSAVE to finish', bgsaveDeadlineMs, async () => !(await persistence(redis)).inProgress);
  const before = await persistence(redis);
  await redis.bgsave();
  let after = before;
  await gate('BGSAVE to finish', bgsaveDeadlineMs, async () => {
    after = await persistence(redis);
    const advanced = after.saves !== null && before.saves !== null ? after.saves > before.saves : after.lastSave > before.lastSave;
    return !after.inProgress && advanced;
  });
  if (after.lastStatus !== 'ok') throw new Error(`BGSAVE failed: rdb_last_bgsave_status is ${after.lastStatus} (see the Redis log)`);
  return { version: before.version, lastSave: after.lastSave };
}

/** Copies the RDB Redis just wrote: from the data directory, or out of its container (Docker archive API). */
async function copyRdb(deps: ActivityDeps, redis: Redis, target: string): Promise<void> {
  const settings = deps.inventory.redis!;
  const fileName = await configValue(redis, 'dbfilename', 'dump.rdb');
  if (settings.container) {
    const dir = await configValue(redis, 'dir', '/data');
    const archive = (await deps.docker(settings.host).getContainer(settings.container).getArchive({ path: `${dir}/${fileName}` })) as Readable;
    const untar = spawnPiped('tar', ['-xO', '-f', '-']);
    await Promise.all([pipeline(archive, untar.child.stdin), pipeline(untar.child.stdout, createWriteStream(target)), untar.exited]);
    return;
  }
  const dir = settings.dataDirectory ?? (await configValue(redis, 'dir', ''));
  if (!dir) throw new Error('set redis.dataDirectory or redis.container: the RDB file cannot be located');
  await copyFile(join(dir, fileName), target);
}

/** CONFIG GET, which managed Redis services may forbid; then the given default applies. */
export async function configValue(redis: Redis, name: string, fallback: string): Promise<string> {
  try {
    const [, value] = (await redis.config('GET', name));
    return value || fallback;
  } catch {
    return fallback;
  }
}

/** redis-check-rdb validates the file and reports how many keys it read. */
export async function checkRdb(file: string): Promise<number> {
  const check = spawnPiped('redis-check-rdb', [file]);
  check.child.stdin.end();
  let out = '';
  check.child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await check.exited;
  const match = /\[info\] (\d+) keys read/.exec(out);
  if (!match) throw new Error(`redis-check-rdb did not report a key count: ${out.slice(-300)}`);
  return Number(match[1]);
}
