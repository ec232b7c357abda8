import { access, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnDaemon, stopPidFile, waitUntil } from '../daemon';
import { cachedBinary, type SandboxLayout } from '../layout';

/** The image registry's address as image names carry it (Docker treats 127.0.0.0/8 as insecure-allowed). */
export function registryAddress(layout: SandboxLayout): string {
  return `127.0.0.1:${layout.ports.registry}`;
}

/**
 * A real image registry (CNCF distribution, built from source by setup.sh) on loopback: deploys pull
 * from it an image a host lacks, as production hosts pull from registry.internal.
 */
export async function startRegistry(layout: SandboxLayout): Promise<void> {
  const binary = cachedBinary('registry');
  await access(binary).catch(() => {
    throw new Error(`the registry was not found at ${binary}: run scripts/setup.sh first`);
  });
  await mkdir(layout.paths.registry, { recursive: true });
  const config = join(layout.paths.registry, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log: { level: warn }',
      'storage:',
      `  filesystem: { rootdirectory: ${join(layout.paths.registry, 'data')} }`,
      '  delete: { enabled: true }',
      `http: { addr: "${registryAddress(layout)}" }`,
      '',
    ].join('\n'),
  );
  await spawnDaemon({
    command: binary,
    args: ['serve', config],
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
    logFile: join(layout.paths.logs, 'registry.log'),
    pidFile: join(layout.paths.pids, 'registry.pid'),
  });
  await waitUntil(async () => (await fetch(`http://${registryAddress(layout)}/v2/`)).ok, 30_000, 200, 'the image registry');
}

export async function stopRegistry(layout: SandboxLayout): Promise<void> {
  await stopPidFile(join(layout.paths.pids, 'registry.pid'));
}
