import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { grpc } from '@temporalio/proto';
import { spawnDaemon, stopPidFile, waitUntil } from '../daemon';
import { cachedBinary, type SandboxLayout } from '../layout';

/** Custom search attributes every tego-ops workflow sets, so the UI's list reads like a change log. */
export const SearchAttributeNames = ['TegoKind', 'TegoTarget', 'TegoChangeId', 'TegoRequestedBy'] as const;

/** The Temporal CLI's dev server: SQLite persistence and the web UI, built from source by setup.sh. */
export async function startTemporal(layout: SandboxLayout): Promise<{ address: string; uiUrl: string }> {
  const binary = cachedBinary('temporal');
  await access(binary).catch(() => {
    throw new Error(`Temporal CLI not found at ${binary}: run scripts/setup.sh first`);
  });
  const { ports, paths } = layout;
  await spawnDaemon({
    command: binary,
    args: [
      'server',
      'start-dev',
      '--ip', '127.0.0.1',
      '--port', String(ports.temporal),
      '--ui-port', String(ports.temporalUi),
      '--http-port', String(ports.temporalHttp),
      '--metrics-port', String(ports.temporalMetrics),
      '--db-filename', paths.temporalDb,
      '--log-level', 'warn',
      ...SearchAttributeNames.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
    ],
    logFile: join(paths.logs, 'temporal.log'),
    pidFile: join(paths.pids, 'temporal.pid'),
  });
  const address = `127.0.0.1:${ports.temporal}`;
  await waitUntil(
    async () => {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        const health = await connection.healthService.check({});
        return health.status === grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING;
      } finally {
        await connection.close();
      }
    },
    90_000,
    500,
    `the Temporal dev server at ${address}`,
  );
  return { address, uiUrl: `http://127.0.0.1:${ports.temporalUi}` };
}

export async function stopTemporal(layout: SandboxLayout): Promise<void> {
  await stopPidFile(join(layout.paths.pids, 'temporal.pid'));
}
