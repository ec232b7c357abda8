import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import Redis from 'ioredis';
import { describe, expect, it } from 'vitest';
import { DecryptStream } from '../../activities/encryption';
import type { BackupManifest } from '../../inventory/backup-catalog';
import type { BackupAllReport } from '../../workflows/backup-all';
import type { BackupReport } from '../../workflows/postgres-backup';
import { SecretEnv } from '../harness/sandbox-inventory';
import { sandboxOffsiteBucket } from '../harness/services/minio';
import { downloadToFile, readObjectText } from '../harness/storage';
import { useSandbox } from '../harness/suite';

const suite = useSandbox();
const { sandbox } = suite;
const run = <T = unknown>(workflowType: string, input: unknown = {}) => suite.run<T>(workflowType, input);

async function manifestAt(kind: string, id: string): Promise<BackupManifest> {
  return JSON.parse(await readObjectText(suite.s3, `backups/${kind}/${id}/manifest.json`)) as BackupManifest;
}

async function download(key: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'tego-kinds-')), key.split('/').pop()!);
  await downloadToFile(suite.s3, key, file);
  return file;
}

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

describe('redisBackupWorkflow', () => {
  it('uploads an RDB that redis-check-rdb accepts, with the exact key count in the manifest', async () => {
    const redis = new Redis({ port: sandbox.portBase + 20, password: sandbox.env[SecretEnv.redisPassword] });
    await redis.flushall();
    const pipelineWrites = redis.pipeline();
    for (let i = 0; i < 1234; i++) pipelineWrites.set(`session:${i}`, `user-${i}`);
    await pipelineWrites.exec();
    await redis.quit();

    const { backups } = await run<BackupReport>('redisBackupWorkflow');
    const manifest = await manifestAt('redis', backups[0].id);
    expect(manifest).toMatchObject({ kind: 'redis', compression: 'zstd', details: { format: 'rdb', keys: 1234 } });
    const file = await download(manifest.object.key);
    expect(await sha256(file)).toBe(manifest.object.sha256);
    execFileSync('zstd', ['-d', '-q', file, '-o', `${file}.rdb`]);
    expect(execFileSync('redis-check-rdb', [`${file}.rdb`], { encoding: 'utf8' })).toMatch(/\[info\] 1234 keys read/);
  });
});

describe('configBackupWorkflow', () => {
  it("encrypts each host's config archive: the .env secret never reaches the bucket in clear", async () => {
    const { backups } = await run<BackupReport>('configBackupWorkflow');
    expect(backups.map((b) => b.source)).toEqual(['files://host1', 'files://host2']);
    const manifest = await manifestAt('config', backups[0].id);
    expect(manifest).toMatchObject({
      kind: 'config',
      encryption: { algorithm: 'aes-256-gcm', keyId: 'sandbox-1' },
      details: { format: 'tar', files: 3 },
    });
    const file = await download(manifest.object.key);
    expect(await sha256(file)).toBe(manifest.object.sha256);
    const secret = sandbox.env[SecretEnv.postgresPassword];
    expect((await readFile(file)).includes(Buffer.from(secret))).toBe(false);

    const key = Buffer.from(sandbox.env[SecretEnv.backupKey], 'base64');
    await pipeline(createReadStream(file), new DecryptStream(key), createWriteStream(`${file}.tar.gz`));
    const listing = execFileSync('tar', ['-tzf', `${file}.tar.gz`], { encoding: 'utf8' }).split('\n');
    expect(listing).toEqual(expect.arrayContaining([expect.stringMatching(/deploy\/host1\/\.env$/), expect.stringMatching(/conf\.d\/tego\.conf$/)]));
    const env = execFileSync('tar', ['-xzOf', `${file}.tar.gz`, '--wildcards', '*/host1/.env'], { encoding: 'utf8' });
    expect(env).toContain(`POSTGRES_PASSWORD=${secret}`);
  });

  it('refuses a host with no configured paths, naming what is configured', async () => {
    const failure = await run('configBackupWorkflow', { hosts: ['host9'] }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause).toMatchObject({
      type: 'UnknownTarget',
      message: 'no config paths are configured for host(s) host9 (backup.configPaths has: host1, host2)',
    });
  });
});

describe('backupAllWorkflow', () => {
  it('runs every kind as a child workflow and reports them together', async () => {
    const report = await run<BackupAllReport>('backupAllWorkflow');
    expect(report.failed).toEqual([]);
    expect(report.backups.map((b) => `${b.kind} ${b.source}`).sort()).toEqual([
      'config files://host1',
      'config files://host2',
      'postgres postgres://pg1/tego_engine',
      `redis redis://127.0.0.1:${sandbox.portBase + 20}`,
    ]);
    for (const backup of report.backups) {
      const manifest = await manifestAt(backup.kind, backup.id);
      expect(manifest.object.sha256).toBe(backup.sha256);
    }
  });
});

describe('offsiteCopyWorkflow', () => {
  it('copies complete backups to the second bucket, checksum-checked, manifest last, and only once', async () => {
    const { backups } = await run<BackupReport>('redisBackupWorkflow');
    const first = await run<{ copied: string[]; alreadyThere: number }>('offsiteCopyWorkflow', { kinds: ['redis'] });
    expect(first.copied).toContain(`redis/${backups[0].id}`);
    const manifest = await manifestAt('redis', backups[0].id);
    const copy = join(await mkdtemp(join(tmpdir(), 'tego-offsite-')), 'copy');
    const response = await suite.s3.send(new GetObjectCommand({ Bucket: sandboxOffsiteBucket, Key: manifest.object.key }));
    await pipeline(response.Body as Readable, createWriteStream(copy));
    expect(await sha256(copy)).toBe(manifest.object.sha256);
    const offsiteManifest = await suite.s3.send(new GetObjectCommand({ Bucket: sandboxOffsiteBucket, Key: `backups/redis/${backups[0].id}/manifest.json` }));
    expect(JSON.parse(await offsiteManifest.Body!.transformToString())).toEqual(manifest);

    const second = await run<{ copied: string[]; alreadyThere: number }>('offsiteCopyWorkflow', { kinds: ['redis'] });
    expect(second.copied).toEqual([]);
    expect(second.alreadyThere).toBe(first.copied.length + first.alreadyThere);
  });
});
