import { CreateMultipartUploadCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { createHash } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../inventory/backup-catalog';
import type { BackupFreshness } from '../../workflows/backup-status';
import type { RetentionReport } from '../../workflows/backup-retention';
import type { VerifyReport } from '../../workflows/backup-verify';
import { sandboxBucket } from '../harness/services/minio';
import { emptyPrefix, listKeys, multipartUploads } from '../harness/storage';
import { useSandbox } from '../harness/suite';

const suite = useSandbox();
const run = <T = unknown>(workflowType: string, input: unknown = {}) => suite.run<T>(workflowType, input);

/** Writes a real (small) backup object and its manifest, finished `ageDays` ago. */
async function seedBackup(id: string, ageDays: number, withManifest = true, source = 'postgres://pg1/tego_engine'): Promise<void> {
  const body = Buffer.from(`dump of ${id}`);
  const key = `backups/postgres/${id}/tego_engine.dump.zst`;
  await suite.s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: key, Body: body }));
  if (!withManifest) return;
  const finishedAt = new Date(Date.now() - ageDays * 86_400_000).toISOString();
  const manifest: BackupManifest = {
    formatVersion: 1,
    kind: 'postgres',
    id,
    source,
    startedAt: finishedAt,
    finishedAt,
    object: { key, size: body.length, sha256: createHash('sha256').update(body).digest('hex') },
    rawSize: body.length,
    compression: 'zstd',
    encryption: null,
    tools: {},
    details: {},
    createdBy: { workflowId: 'seed', runId: 'seed' },
  };
  await suite.s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: `backups/postgres/${id}/manifest.json`, Body: JSON.stringify(manifest) }));
}

const ids = (keys: string[]) => [...new Set(keys.map((k) => k.split('/')[2]))].sort();
const seededId = (age: number) => `seed-${String(age).padStart(2, '0')}`;

beforeEach(async () => {
  await emptyPrefix(suite.s3, 'backups/');
});

describe('backupRetentionWorkflow', () => {
  it('deletes exactly the backups past 30 days and the stale leftovers, never the newest', async () => {
    for (let age = 0; age < 40; age++) await seedBackup(seededId(age), age + 0.5);
    await seedBackup('leftover', 0, false);
    await suite.s3.send(new CreateMultipartUploadCommand({ Bucket: sandboxBucket, Key: 'backups/postgres/abandoned/tego_engine.dump.zst' }));
    const expired = Array.from({ length: 10 }, (_, i) => seededId(30 + i));

    const dry = await run<RetentionReport>('backupRetentionWorkflow', { kinds: ['postgres'], dryRun: true });
    const plan = dry.kinds[0].complete.filter((d) => d.action === 'delete').map((d) => d.id).sort();
    expect(plan).toEqual(expired);
    expect(dry.deleted).toBe(0);
    expect(ids(await listKeys(suite.s3, 'backups/postgres/'))).toHaveLength(41);

    await new Promise((r) => setTimeout(r, 2000)); // let the leftovers age past a 1 s grace period
    const report = await run<RetentionReport>('backupRetentionWorkflow', { kinds: ['postgres'], incompleteGraceHours: 1 / 3600 });
    expect(report.deleted).toBe(11);
    expect(report.kinds[0].abortedUploads).toEqual(['backups/postgres/abandoned/tego_engine.dump.zst']);
    const remaining = ids(await listKeys(suite.s3, 'backups/postgres/'));
    expect(remaining).toEqual(Array.from({ length: 30 }, (_, age) => seededId(age)));
    expect(await multipartUploads(suite.s3)).toEqual([]);
  });

  it('keeps the newest and the minCount floor even when every backup is ancient', async () => {
    for (const age of [100, 200, 300, 400, 500]) await seedBackup(seededId(age / 100), age);
    await run<RetentionReport>('backupRetentionWorkflow', { kinds: ['postgres'] });
    expect(ids(await listKeys(suite.s3, 'backups/postgres/'))).toEqual([seededId(1), seededId(2), seededId(3)]);
  });
});

describe('backupVerifyWorkflow', () => {
  it('passes intact backups and names an altered object with both checksums', async () => {
    await seedBackup('intact', 1);
    await seedBackup('tampered', 2);
    const ok = await run<VerifyReport>('backupVerifyWorkflow', { kinds: ['postgres'] });
    expect(ok.results.map((r) => r.ok)).toEqual([true, true]);

    const key = 'backups/postgres/tampered/tego_engine.dump.zst';
    await suite.s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: key, Body: Buffer.from('dump of tamperes') }));
    const failure = await run('backupVerifyWorkflow', { kinds: ['postgres'] }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toMatchObject({ type: 'ChecksumMismatch' });
    expect(cause!.message).toMatch(
      /^1 of 2 checks failed: backups\/postgres\/tampered\/tego_engine\.dump\.zst: sha256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64}$/,
    );
  });
});

describe('backupStatusWorkflow', () => {
  it('shows the newest backup of each source and its age, and flags sources with none or too old', async () => {
    await seedBackup('recent', 0.25);
    await seedBackup('older', 3);
    await seedBackup('retired-db', 3, true, 'postgres://pg1/retired');
    const { kinds } = await run<{ kinds: BackupFreshness[] }>('backupStatusWorkflow');
    const engine = kinds.find((k) => k.source === 'postgres://pg1/tego_engine')!;
    expect(engine).toMatchObject({ kind: 'postgres', latest: { id: 'recent' }, complete: 2, stale: false });
    expect(engine.ageHours).toBeCloseTo(6, 0);
    // A fresh backup of one database does not hide a stale one of another.
    expect(kinds.find((k) => k.source === 'postgres://pg1/retired')).toMatchObject({ latest: { id: 'retired-db' }, stale: true, problem: 'newest is 72 h old, over 26 h' });
    // Every source the inventory names is listed, backed up or not.
    expect(kinds.filter((k) => k.kind === 'config').map((k) => [k.source, k.problem])).toEqual([
      ['files://host1', 'no complete backup'],
      ['files://host2', 'no complete backup'],
    ]);
    expect(kinds.find((k) => k.kind === 'redis')).toMatchObject({ source: `redis://127.0.0.1:${suite.sandbox.portBase + 20}`, latest: null, stale: true });
    // No drill report in the bucket: flagged, as a backup never restored is not known to restore.
    expect(kinds.find((k) => k.kind === 'drill')).toMatchObject({ latest: null, stale: true, problem: 'no successful restore drill' });

    await emptyPrefix(suite.s3, 'backups/');
    await seedBackup('old', 2);
    const later = await run<{ kinds: BackupFreshness[] }>('backupStatusWorkflow');
    expect(later.kinds.find((k) => k.kind === 'postgres')).toMatchObject({ stale: true, problem: 'newest is 48 h old, over 26 h' });
  });
});
