import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseInventory } from '../../inventory/load';
import type { BackupManifest } from '../../inventory/backup-catalog';
import type { BackupReport } from '../../workflows/postgres-backup';
import { waitUntil } from '../harness/daemon';
import { sandboxLayout } from '../harness/layout';
import { SecretEnv } from '../harness/sandbox-inventory';
import { buildRedisImage, RedisImage } from '../harness/services/images';
import { downloadToFile, readObjectText } from '../harness/storage';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';
import { startWorkerProcess, type WorkerProcess } from '../harness/worker-process';

/**
 * Redis in a container, as the guide runs it: the RDB is fetched through the Docker archive API.
 * A second inventory describes it, served by its own worker on its own queues.
 */
const suite = useSandbox();
const { sandbox } = suite;
const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const containerName = `${sandbox.containerNamePrefix}redis-in-container`;
const port = sandbox.portBase + 21;
let containerWorker: WorkerProcess;

beforeAll(async () => {
  await buildRedisImage(docker, sandboxLayout(sandbox.stateDir, sandbox.portBase));
  await docker.getContainer(containerName).remove({ force: true }).catch(() => undefined);
  const container = await docker.createContainer({
    name: containerName,
    Image: RedisImage,
    Cmd: ['--port', String(port), '--bind', '127.0.0.1', '--dir', '/data', '--save', '', '--requirepass', sandbox.env[SecretEnv.redisPassword]],
    HostConfig: { NetworkMode: 'host' },
  });
  await container.start();

  const inventory = parseInventory(await readFile(sandbox.inventoryPath, 'utf8'));
  inventory.temporal.taskQueue = 'ops-redis-container';
  for (const host of inventory.hosts) host.taskQueue = `ops-redis-container@${host.name}`;
  inventory.redis = { host: 'host1', address: '127.0.0.1', port, passwordEnv: SecretEnv.redisPassword, container: containerName };
  const path = join(sandbox.stateDir, 'ops-redis-container.yaml');
  await writeFile(path, stringify(inventory));
  containerWorker = await startWorkerProcess(sandbox, { bundlePath: suite.bundlePath, env: { TEGO_OPS_CONFIG: path } });
});

afterAll(async () => {
  await containerWorker?.stop();
  await docker.getContainer(containerName).remove({ force: true }).catch(() => undefined);
});

describe('redisBackupWorkflow with Redis in a container', () => {
  it("copies the RDB out of the container and records its exact key count", async () => {
    const redis = new Redis({ port, password: sandbox.env[SecretEnv.redisPassword], lazyConnect: true });
    await waitUntil(async () => (await redis.connect().then(() => true, () => false)) || redis.status === 'ready', 15_000, 200, 'redis in its container');
    const writes = redis.pipeline();
    for (let i = 0; i < 777; i++) writes.set(`container:${i}`, String(i));
    await writes.exec();
    await redis.quit();

    const { backups } = await suite.client.workflow.execute<(i: unknown) => Promise<BackupReport>>('redisBackupWorkflow', {
      taskQueue: 'ops-redis-container',
      workflowId: uniqueId('backup-redis-container'),
      args: [{}],
    });
    const manifest = JSON.parse(await readObjectText(suite.s3, `backups/redis/${backups[0].id}/manifest.json`)) as BackupManifest;
    expect(manifest.details).toMatchObject({ keys: 777 });
    const file = join(await mkdtemp(join(tmpdir(), 'tego-redis-c-')), 'dump.rdb.zst');
    await downloadToFile(suite.s3, manifest.object.key, file);
    execFileSync('zstd', ['-d', '-q', file, '-o', `${file}.rdb`]);
    expect(execFileSync('redis-check-rdb', [`${file}.rdb`], { encoding: 'utf8' })).toMatch(/\[info\] 777 keys read/);
  });
});

describe('restoreRedisWorkflow with Redis in a container', () => {
  it('puts the RDB back in place: the data is the backup\'s again, with a safety backup of what it replaced', async () => {
    const redis = new Redis({ port, password: sandbox.env[SecretEnv.redisPassword] });
    await redis.flushall();
    const writes = redis.pipeline();
    for (let i = 0; i < 300; i++) writes.set(`kept:${i}`, String(i));
    await writes.exec();
    const { backups } = await suite.client.workflow.execute<(i: unknown) => Promise<BackupReport>>('redisBackupWorkflow', {
      taskQueue: 'ops-redis-container',
      workflowId: uniqueId('backup-redis-container'),
      args: [{}],
    });
    // Damage after the backup: keys lost and keys that should not be there.
    await redis.del('kept:0', 'kept:1');
    await redis.set('stray', 'x');
    await redis.quit();

    const report = await suite.client.workflow.execute<(i: unknown) => Promise<{ restoredFrom: string; keys: number; safetyBackup: string }>>('restoreRedisWorkflow', {
      taskQueue: 'ops-redis-container',
      workflowId: uniqueId('restore-redis'),
      args: [{ backupId: backups[0].id, requestedBy: 'ops-test' }],
    });
    expect(report).toMatchObject({ restoredFrom: backups[0].id, keys: 300 });
    const after = new Redis({ port, password: sandbox.env[SecretEnv.redisPassword] });
    try {
      expect(await after.dbsize()).toBe(300);
      expect(await after.get('kept:0')).toBe('0');
      expect(await after.exists('stray')).toBe(0);
    } finally {
      await after.quit();
    }
    const safety = JSON.parse(await readObjectText(suite.s3, `backups/redis/${report.safetyBackup}/manifest.json`)) as BackupManifest;
    expect(safety.details).toMatchObject({ keys: 299 });
  });
});
