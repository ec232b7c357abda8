import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Docker from 'dockerode';
import { stringify } from 'yaml';
import { parseInventory } from '../../inventory/load';
import type { Inventory } from '../../inventory/schema';
import { sandboxLayout, type SandboxLayout } from './layout';
import { SecretEnv, sandboxDeployDir, sandboxInventory, sandboxPayloadKeyId } from './sandbox-inventory';
import { alertWebhookUrl, startAlertSinks, stopAlertSinks } from './services/alert-sinks';
import { removeApps, startApps } from './services/apps';
import { dockerSocket, ensureDockerEngine } from './services/docker-engine';
import { buildDemoImages } from './services/images';
import { startMinio, stopMinio } from './services/minio';
import { startRegistry, stopRegistry } from './services/registry';
import { startNginx, stopNginx } from './services/nginx';
import { startPostgres, stopPostgres } from './services/postgres';
import { startRedis, stopRedis } from './services/redis';
import { startTemporal, stopTemporal } from './services/temporal';

export interface SandboxOptions {
  /** Everything the sandbox writes lives here: data, logs, pids, the inventory. */
  stateDir: string;
  /** Ports are allocated upward from here (see layout.ts). */
  portBase: number;
  /** Container name prefix, so sandboxes sharing the Docker engine do not collide. */
  containerNamePrefix: string;
}

/** What a started sandbox tells its users (tests, the CLI): saved as sandbox.json in the state dir. */
export interface SandboxState {
  id: string;
  stateDir: string;
  portBase: number;
  inventoryPath: string;
  containerNamePrefix: string;
  temporalAddress: string;
  temporalUiUrl: string;
  workerMetricsPort: number;
  /** Values of the secret variables the inventory names; set these in a worker's environment. */
  env: Record<string, string>;
}

export const defaultSandbox: SandboxOptions = {
  stateDir: process.env.TEGO_SANDBOX_DIR ?? '/tmp/tego-sandbox',
  portBase: Number(process.env.TEGO_SANDBOX_PORT_BASE ?? 20000),
  containerNamePrefix: '',
};

/**
 * Starts the whole sandbox on loopback: Temporal dev server, Docker engine and demo images,
 * PostgreSQL primary + streaming replica, Redis, MinIO, the demo apps, and nginx in front of them.
 * Idempotent: a sandbox already running in the same state directory is stopped first.
 */
export async function startSandbox(options: SandboxOptions, progress: (step: string) => void = () => undefined) {
  await stopSandbox(options);
  const layout = sandboxLayout(options.stateDir, options.portBase);
  await rm(layout.stateDir, { recursive: true, force: true });
  for (const dir of [layout.stateDir, layout.paths.logs, layout.paths.pids]) await mkdir(dir, { recursive: true, mode: 0o755 });

  const env = {
    [SecretEnv.postgresPassword]: randomSecret(),
    [SecretEnv.redisPassword]: randomSecret(),
    [SecretEnv.s3AccessKeyId]: `tego${randomBytes(6).toString('hex')}`,
    [SecretEnv.s3SecretAccessKey]: randomSecret(),
    [SecretEnv.backupKey]: randomBytes(32).toString('base64'),
    [SecretEnv.payloadKeys]: `${sandboxPayloadKeyId}:${randomBytes(32).toString('base64')}`,
    [SecretEnv.codecServerTokens]: randomSecret(),
    [SecretEnv.alertWebhookUrl]: alertWebhookUrl(layout),
  };
  Object.assign(process.env, env);
  await writeFile(
    layout.paths.secrets,
    Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n') + '\n',
    { mode: 0o600 },
  );
  await writeDeployFiles(layout, env[SecretEnv.postgresPassword]);
  const inventoryText = stringify(sandboxInventory(layout, options.containerNamePrefix));
  await writeFile(layout.paths.inventory, inventoryText);
  const inventory = parseInventory(inventoryText, layout.paths.inventory);

  const timed = async <T>(step: string, work: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    const result = await work();
    progress(`${step} ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return result;
  };
  const [temporal, docker] = await Promise.all([
    timed('Temporal dev server', () => startTemporal(layout)),
    timed('Docker engine and demo images', async () => {
      const engine = await ensureDockerEngine(layout);
      await buildDemoImages(engine, layout);
      return engine;
    }),
    timed('PostgreSQL primary and replica', () => startPostgres(layout, env[SecretEnv.postgresPassword])),
    timed('Redis', () => startRedis(layout, env[SecretEnv.redisPassword])),
    timed('MinIO', () =>
      startMinio(layout, { accessKeyId: env[SecretEnv.s3AccessKeyId], secretAccessKey: env[SecretEnv.s3SecretAccessKey] }),
    ),
    timed('image registry', () => startRegistry(layout)),
    timed('notification sinks (webhook, SMTP)', () => startAlertSinks(layout)),
  ]);
  await timed('demo apps', () => startApps(docker, inventory, sandboxId(options)));
  await timed('nginx', () => startNginx(layout, inventory));

  const state: SandboxState = {
    id: sandboxId(options),
    stateDir: layout.stateDir,
    portBase: options.portBase,
    inventoryPath: layout.paths.inventory,
    containerNamePrefix: options.containerNamePrefix,
    temporalAddress: temporal.address,
    temporalUiUrl: temporal.uiUrl,
    workerMetricsPort: layout.ports.workerMetrics,
    env,
  };
  await writeFile(layout.paths.state, JSON.stringify(state, null, 2), { mode: 0o600 });
  return { state, inventory, layout };
}

/** Stops everything a sandbox in this state directory started. Safe to call when nothing runs. */
export async function stopSandbox(options: SandboxOptions): Promise<void> {
  const layout = sandboxLayout(options.stateDir, options.portBase);
  const docker = new Docker({ socketPath: dockerSocket });
  await Promise.all([
    stopTemporal(layout),
    stopPostgres(layout),
    stopRedis(layout),
    stopMinio(layout),
    stopRegistry(layout),
    stopNginx(layout),
    stopAlertSinks(layout),
    removeApps(docker, sandboxId(options)).catch(() => undefined), // no engine, no containers
  ]);
}

export async function readSandboxState(stateDir: string): Promise<SandboxState> {
  return JSON.parse(await readFile(sandboxLayout(stateDir, 0).paths.state, 'utf8')) as SandboxState;
}

export function sandboxId(options: SandboxOptions): string {
  return `sandbox-${options.portBase}`;
}

/**
 * What the guide's config backup archives on each host: a compose file and its .env (which holds a
 * secret, the reason config backups are encrypted).
 */
async function writeDeployFiles(layout: SandboxLayout, databasePassword: string): Promise<void> {
  for (const host of ['host1', 'host2']) {
    const dir = sandboxDeployDir(layout, host);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'docker-compose.yml'), `# ${host}: the TeGo-AI services placed here
services: {}
`);
    await writeFile(join(dir, '.env'), `POSTGRES_HOST=127.0.0.1
POSTGRES_PASSWORD=${databasePassword}
`, { mode: 0o600 });
  }
}

function randomSecret(): string {
  return randomBytes(18).toString('base64url');
}

export type { Inventory, SandboxLayout };
