import Redis from 'ioredis';
import { round1 } from '../workflows/health-report';
import type { ActivityDeps } from './deps';
import { timedProbe, type ProbeResult } from './probe-result';

/** Parses `INFO` output into a flat map of field → value. */
export function parseRedisInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    if (!line || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1);
  }
  return fields;
}

/**
 * A connected client that fails fast: probes and backups decide about retries, not the client.
 * @throws the socket's own error (ECONNREFUSED, ETIMEDOUT, WRONGPASS…), not ioredis's "Connection is closed."
 */
export async function connectRedis(deps: ActivityDeps, timeoutMs = 3000): Promise<Redis> {
  const settings = deps.inventory.redis;
  if (!settings) throw new Error('the inventory has no redis section');
  const redis = new Redis({
    host: settings.address,
    port: settings.port,
    password: settings.passwordEnv ? deps.secret(settings.passwordEnv, 'redis.passwordEnv') : undefined,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // Errors surface through the command that hit them; the event would otherwise be unhandled.
  let lastError: Error | undefined;
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw lastError ?? err;
  }
  return redis;
}

export function createRedisActivities(deps: ActivityDeps) {
  return {
    /** PING, role, memory against maxmemory, clients and hit rate from one INFO call. */
    async probeRedis(): Promise<ProbeResult> {
      return timedProbe(async () => {
        const redis = await connectRedis(deps);
        try {
          await redis.ping();
          const info = parseRedisInfo(await redis.info());
          const usedMemory = Number(info.used_memory ?? 0);
          const maxMemory = Number(info.maxmemory ?? 0);
          const hits = Number(info.keyspace_hits ?? 0);
          const misses = Number(info.keyspace_misses ?? 0);
          return {
            status: 'up',
            detail: {
              role: info.role ?? 'unknown',
              version: info.redis_version ?? 'unknown',
              usedMemoryBytes: usedMemory,
              maxMemoryBytes: maxMemory,
              memoryPercent: maxMemory > 0 ? round1((usedMemory / maxMemory) * 100) : null,
              connectedClients: Number(info.connected_clients ?? 0),
              hitRatePercent: hits + misses > 0 ? round1((hits / (hits + misses)) * 100) : null,
              // Counters since the server started: the patrol takes differences between two probes.
              keyspaceHits: hits,
              keyspaceMisses: misses,
            },
          };
        } finally {
          redis.disconnect();
        }
      });
    },
  };
}

