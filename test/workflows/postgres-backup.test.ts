import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { beforeAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../inventory/backup-catalog';
import type { BackupReport } from '../../workflows/postgres-backup';
import { waitUntil } from '../harness/daemon';
import { sandboxLayout } from '../harness/layout';
import { ensureBulkDatabase } from '../harness/postgres-data';
import { SecretEnv } from '../harness/sandbox-inventory';
import { startMinio, stopMinio } from '../harness/services/minio';
import { downloadToFile, listKeys, multipartUploads, readObjectText } from '../harness/storage';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';

const suite = useSandbox();
const { sandbox } = suite;
const layout = sandboxLayout(sandbox.stateDir, sandbox.portBase);
/** ~450 MB of rows: a dump that streams for seconds, long enough to break it in the middle. */
const bulkDatabase = 'tego_bulk';

function startBackup(databases: string[]) {
  return suite.client.workflow.start<(input: unknown) => Promise<BackupReport>>('postgresBackupWorkflow', {
    taskQueue: 'ops',
    workflowId: uniqueId('backup-postgres'),
    args: [{ databases }],
  });
}

async function manifestOf(id: string): Promise<BackupManifest> {
  return JSON.parse(await readObjectText(suite.s3, `backups/postgres/${id}/manifest.json`)) as BackupManifest;
}

async function sha256OfObject(key: string): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'tego-backup-')), 'object');
  await downloadToFile(suite.s3, key, file);
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Resolves once a multipart upload is in flight: the dump is streaming into the bucket. */
async function untilUploading(): Promise<void> {
  await waitUntil(async () => (await multipartUploads(suite.s3)).length > 0, 120_000, 50, 'a multipart upload to start');
}

beforeAll(async () => {
  await ensureBulkDatabase(sandbox, bulkDatabase, 3_000_000);
});

describe('postgresBackupWorkflow', () => {
  it('streams a dump into the bucket that pg_restore accepts, with a manifest that matches it', async () => {
    const handle = await startBackup(['tego_engine']);
    const { backups } = await handle.result();
    expect(backups).toHaveLength(1);
    const [backup] = backups;
    expect(backup.key).toMatch(/^backups\/postgres\/tego_engine-\d{8}T\d{6}Z-[0-9a-f]{6}\/tego_engine\.dump\.zst$/);

    const manifest = await manifestOf(backup.id);
    expect(manifest).toMatchObject({
      kind: 'postgres',
      source: 'postgres://pg1/tego_engine',
      compression: 'zstd',
      encryption: null,
      object: { key: backup.key, size: backup.size, sha256: backup.sha256 },
      details: { rowCounts: { 'public.users': 200, 'public.workflows': 1000 }, format: 'pg_dump custom' },
      createdBy: { workflowId: handle.workflowId },
    });
    expect(manifest.details.lsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(manifest.tools.pg_dump).toMatch(/^pg_dump \(PostgreSQL\) 15/);
    expect(manifest.rawSize).toBeGreaterThan(manifest.object.size);

    const dir = await mkdtemp(join(tmpdir(), 'tego-backup-'));
    await downloadToFile(suite.s3, backup.key, join(dir, 'dump.zst'));
    expect(createHash('sha256').update(await readFile(join(dir, 'dump.zst'))).digest('hex')).toBe(manifest.object.sha256);
    execFileSync('zstd', ['-d', '-q', join(dir, 'dump.zst'), '-o', join(dir, 'dump')]);
    const listing = execFileSync('pg_restore', ['--list', join(dir, 'dump')], { encoding: 'utf8' });
    expect(listing).toMatch(/TABLE DATA public workflows/);
    expect(listing).toMatch(/TABLE DATA public users/);
    expect(await listKeys(suite.s3, `backups/postgres/${backup.id}/`)).toEqual(
      [backup.key, `backups/postgres/${backup.id}/manifest.json`].sort(),
    );
    // The manifest is written last, once the dump has completed.
    const history = await handle.fetchHistory();
    const steps = history.events!.flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    expect(steps).toEqual(['describeTopology', 'dumpPostgresDatabase', 'writeBackupManifest']);
  });

  it('fails non-retryably on a database that does not exist, naming it, and writes nothing', async () => {
    const handle = await startBackup(['no_such_db']);
    const failure = await handle.result().catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause?.cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'DatabaseNotFound', nonRetryable: true });
    expect((cause as ApplicationFailure).message).toBe('database "no_such_db" does not exist on pg1 (127.0.0.1:30010)');
    expect(await listKeys(suite.s3, 'backups/postgres/no_such_db-')).toEqual([]);
    expect(await multipartUploads(suite.s3)).toEqual([]);
  });

  it('survives a worker killed mid-upload: exactly one complete backup, no multipart upload left', async () => {
    const handle = await startBackup([bulkDatabase]);
    await untilUploading();
    await suite.worker.kill();
    await suite.restartWorker();
    const { backups } = await handle.result();
    expect(backups).toHaveLength(1);
    const manifest = await manifestOf(backups[0].id);
    expect(manifest.details).toMatchObject({ rowCounts: { 'public.events': 3_000_000 } });
    expect(await listKeys(suite.s3, `backups/postgres/${backups[0].id}/`)).toHaveLength(2);
    expect(await multipartUploads(suite.s3)).toEqual([]);
    expect(await sha256OfObject(manifest.object.key)).toBe(manifest.object.sha256);
    const history = await handle.fetchHistory();
    const dumpAttempts = history.events!.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
    expect(Math.max(...dumpAttempts)).toBeGreaterThan(1);
  });

  it('rides out the object store stopping for 30 s during an upload', async () => {
    const handle = await startBackup([bulkDatabase]);
    await untilUploading();
    await stopMinio(layout);
    await new Promise((r) => setTimeout(r, 30_000)); // the outage being simulated, not a wait for a result
    await startMinio(layout, {
      accessKeyId: sandbox.env[SecretEnv.s3AccessKeyId],
      secretAccessKey: sandbox.env[SecretEnv.s3SecretAccessKey],
    });
    const { backups } = await handle.result();
    const manifest = await manifestOf(backups[0].id);
    expect(await sha256OfObject(manifest.object.key)).toBe(manifest.object.sha256);
    expect(await multipartUploads(suite.s3)).toEqual([]);
  });
});
