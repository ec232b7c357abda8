import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type Docker from 'dockerode';
import { run } from '../daemon';
import type { SandboxLayout } from '../layout';

const sourceDir = resolve(__dirname, '../../fixtures/demo-app');

/**
 * The demo app images, built locally (no registry is reachable): good versions for deploys, and a
 * `bad` one whose /health fails and a `hanging` one whose /health never answers, the targets of rollback tests.
 */
export const DemoImages = {
  v1: 'tego-demo:1.0.0',
  v2: 'tego-demo:2.0.0',
  v3: 'tego-demo:3.0.0',
  bad: 'tego-demo:bad',
  /** One whose /health never answers: a check waits for its own timeout, so a short deadline sees none finish. */
  hanging: 'tego-demo:hang',
  /** 2.0.0 taking 5 s to start, as real services do: the deploy benchmark's health gates wait on it. */
  slow: 'tego-demo:2.0.0-slow',
} as const;

const variants = [
  { tag: DemoImages.v1, version: '1.0.0', health: 'ok' },
  { tag: DemoImages.v2, version: '2.0.0', health: 'ok' },
  { tag: DemoImages.v3, version: '3.0.0', health: 'ok' },
  { tag: DemoImages.bad, version: 'bad', health: 'fail' },
  { tag: DemoImages.hanging, version: 'hang', health: 'hang' },
  { tag: DemoImages.slow, version: '2.0.0', health: 'ok', readyAfterMs: 5000 },
];

/** Builds each image unless one built from the same source already exists. */
export async function buildDemoImages(docker: Docker, layout: SandboxLayout): Promise<void> {
  const hash = await sourceHash();
  const missing = [];
  for (const variant of variants) {
    const existing = await docker
      .getImage(variant.tag)
      .inspect()
      .catch(() => undefined);
    if (existing?.Config.Labels?.['tego.source-hash'] !== hash) missing.push(variant);
  }
  if (missing.length === 0) return;

  const context = join(layout.paths.images, 'demo-app');
  await mkdir(context, { recursive: true });
  await run('go', ['build', '-trimpath', '-o', join(context, 'demo-app'), '.'], {
    cwd: sourceDir,
    env: { ...process.env, CGO_ENABLED: '0' },
  });
  await copyFile(join(sourceDir, 'Dockerfile'), join(context, 'Dockerfile'));
  for (const variant of missing) {
    await run('docker', [
      'build', '--quiet',
      '--tag', variant.tag,
      '--label', `tego.source-hash=${hash}`,
      '--build-arg', `VERSION=${variant.version}`,
      '--build-arg', `HEALTH=${variant.health}`,
      '--build-arg', `READY_AFTER_MS=${'readyAfterMs' in variant ? variant.readyAfterMs : 0}`,
      context,
    ]);
  }
}

async function sourceHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const file of ['main.go', 'go.mod', 'Dockerfile']) hash.update(await readFile(join(sourceDir, file)));
  return hash.digest('hex').slice(0, 16);
}

/** A Redis image made from this machine's redis-server and its libraries (no registry to pull from). */
export const RedisImage = 'tego-redis:sandbox';

export async function buildRedisImage(docker: Docker, layout: SandboxLayout): Promise<void> {
  if (await docker.getImage(RedisImage).inspect().then(() => true, () => false)) return;
  const { stdout } = await run('ldd', ['/usr/bin/redis-server']);
  const libraries = [...stdout.matchAll(/(\/\S+\.so[.\d]*)/g)].map((m) => m[1].replace(/^\//, ''));
  const staging = join(layout.paths.images, 'redis');
  await mkdir(join(staging, 'data'), { recursive: true });
  await run('bash', [
    '-o', 'pipefail', '-c',
    `tar -ch -f - -C / usr/bin/redis-server ${libraries.join(' ')} -C ${staging} data | ` +
      `docker import --change 'ENTRYPOINT ["/usr/bin/redis-server"]' - ${RedisImage}`,
  ]);
}
