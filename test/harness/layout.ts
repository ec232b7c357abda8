import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where setup.sh caches what it builds (Temporal CLI, MinIO, the image registry), so reruns are instant. */
export function cacheDir(): string {
  return process.env.TEGO_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'tego-ops');
}

export function cachedBinary(name: 'temporal' | 'minio' | 'registry'): string {
  return join(cacheDir(), 'bin', name);
}

/**
 * Every port and path of one sandbox, derived from its state directory and a port base, so the
 * interactive sandbox and the test suite can run side by side.
 */
export function sandboxLayout(stateDir: string, portBase: number) {
  return {
    stateDir,
    ports: {
      temporal: portBase + 1,
      temporalUi: portBase + 2,
      temporalHttp: portBase + 3,
      temporalMetrics: portBase + 4,
      postgresPrimary: portBase + 10,
      postgresReplica: portBase + 11,
      redis: portBase + 20,
      minio: portBase + 30,
      minioConsole: portBase + 31,
      /** One nginx frontend per service, in the order of the sandbox's services. */
      frontendBase: portBase + 40,
      workerMetrics: portBase + 50,
      registry: portBase + 70,
      /** The notification sinks: a Slack-compatible webhook and SMTP (test/harness/alert-sink-server.ts). */
      alertWebhook: portBase + 80,
      smtp: portBase + 81,
      /** App instances take consecutive ports from here. */
      instanceBase: portBase + 100,
    },
    paths: {
      inventory: join(stateDir, 'ops.yaml'),
      state: join(stateDir, 'sandbox.json'),
      secrets: join(stateDir, 'secrets.env'),
      pids: join(stateDir, 'pids'),
      logs: join(stateDir, 'logs'),
      temporalDb: join(stateDir, 'temporal.db'),
      postgres: join(stateDir, 'postgres'),
      redis: join(stateDir, 'redis'),
      minio: join(stateDir, 'minio'),
      registry: join(stateDir, 'registry'),
      nginx: join(stateDir, 'nginx'),
      images: join(stateDir, 'images'),
      /** What the notification sinks received, one JSON line per notification. */
      alerts: join(stateDir, 'alerts'),
    },
  };
}

export type SandboxLayout = ReturnType<typeof sandboxLayout>;
