import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Redis from 'ioredis';
import { spawnDaemon, stopPidFile, waitUntil } from '../daemon';
import type { SandboxLayout } from '../layout';

/** Redis with the guide's RDB save rules, a maxmemory so memory alerts mean something, and a password. */
export async function startRedis(layout: SandboxLayout, password: string): Promise<void> {
  const dir = layout.paths.redis;
  await mkdir(dir, { recursive: true });
  const config = join(dir, 'redis.conf');
  await writeFile(
    config,
    [
      `bind 127.0.0.1`,
      `port ${layout.ports.redis}`,
      `dir ${dir}`,
      `dbfilename dump.rdb`,
      `save 900 1 300 10 60 10000`,
      `maxmemory 256mb`,
      `maxmemory-policy allkeys-lru`,
      `requirepass ${password}`,
      `daemonize no`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  await spawnDaemon({
    command: 'redis-server',
    args: [config],
    logFile: join(layout.paths.logs, 'redis.log'),
    pidFile: join(layout.paths.pids, 'redis.pid'),
  });
  await waitUntil(
    async () => {
      const redis = new Redis({ port: layout.ports.redis, host: '127.0.0.1', password, lazyConnect: true, retryStrategy: () => null });
      redis.on('error', () => undefined);
      try {
        await redis.connect();
        return (await redis.ping()) === 'PONG';
      } finally {
        redis.disconnect();
      }
    },
    30_000,
    200,
    'redis',
  );
}

export async function stopRedis(layout: SandboxLayout): Promise<void> {
  await stopPidFile(join(layout.paths.pids, 'redis.pid'));
}
