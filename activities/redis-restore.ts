import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { pack } from 'tar-stream';
import type { BackupManifest } from '../inventory/backup-catalog';
import { ErrorType } from '../workflows/error-types';
import { assertLocalHost, type ActivityDeps } from './deps';
import { connectRedis } from './redis';
import { checkRdb, configValue } from './redis-backup';
import { decompressInto, withStoredObject } from './restore-stream';
import { ByteMeter } from './stream-upload';

export function createRedisRestoreActivities(deps: ActivityDeps) {
  return {
    /**
     * The guide's Redis restore, for Redis in a container: fetch the RDB (checked against its manifest
     * and by redis-check-rdb), stop the container, put the file in its data directory through the Docker
     * archive API, start it, and wait until it has loaded exactly the manifest's key count. Safe to run
     * again: each run puts the same file in place.
     * @throws ApplicationFailure `InvalidInput` when Redis is not in a container (redis.container unset)
     * @throws ApplicationFailure `RestoreFailed` when the loaded key count differs from the manifest's
     */
    async putRdbInPlace({ manifest }: { manifest: BackupManifest }): Promise<{ keys: number }> {
      const settings = deps.inventory.redis;
      if (!settings?.container) {
        throw ApplicationFailure.nonRetryable('restoring Redis needs redis.container: tego-ops restores the RDB of a Redis it can stop and start', ErrorType.InvalidInput);
      }
      assertLocalHost(deps, settings.host);
      const expected = Number(manifest.details.keys);
      const work = await mkdtemp(join(tmpdir(), 'tego-redis-restore-'));
      try {
        const rdb = join(work, 'dump.rdb');
        await withStoredObject(deps, manifest, new ByteMeter(true), async (body) => {
          const file = createWriteStream(rdb);
          const written = new Promise<void>((resolve, reject) => file.once('finish', resolve).once('error', reject));
          await decompressInto(body, manifest.compression, file, written, (err) => err);
        });
        const keysInFile = await checkRdb(rdb);
        if (keysInFile !== expected) {
          throw ApplicationFailure.nonRetryable(`${manifest.object.key} holds ${keysInFile} keys, its manifest says ${expected}`, ErrorType.RestoreFailed);
        }
        // Where this Redis keeps its RDB, asked while it runs (a retry after the stop finds it stopped: defaults).
        const running = await connectRedis(deps, 5000).catch(() => undefined);
        const dir = running ? await configValue(running, 'dir', '/data') : '/data';
        const fileName = running ? await configValue(running, 'dbfilename', 'dump.rdb') : 'dump.rdb';
        running?.disconnect();

        const container = deps.docker(settings.host).getContainer(settings.container);
        if ((await container.inspect()).State.Running) await container.stop({ t: 30 });
        const archive = pack();
        archive.entry({ name: fileName, mode: 0o644 }, await readFile(rdb));
        archive.finalize();
        await container.putArchive(Readable.from(archive), { path: dir });
        await container.start();
        const keys = await loadedKeys(deps);
        if (keys !== expected) throw ApplicationFailure.nonRetryable(`Redis loaded ${keys} keys from the restored RDB, the manifest says ${expected}`, ErrorType.RestoreFailed);
        return { keys };
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
  };
}

/** Waits until the restarted Redis answers and has finished loading, then counts its keys. */
async function loadedKeys(deps: ActivityDeps): Promise<number> {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const redis = await connectRedis(deps, 2000).catch(() => undefined);
    if (redis) {
      try {
        const info = await redis.info();
        if (/^loading:0/m.test(info)) return [...info.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      } catch {
        // still starting
      } finally {
        redis.disconnect();
      }
    }
    Context.current().heartbeat({ phase: 'waiting for Redis to load the RDB' });
    await Context.current().sleep(250);
  }
  throw new Error('Redis did not finish loading the restored RDB within 2 minutes');
}
