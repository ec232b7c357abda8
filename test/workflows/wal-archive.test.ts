import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { WorkflowFailedError } from '@temporalio/client';
import { type Client, type WorkflowHandle } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { walSegmentName, type BackupManifest } from '../../inventory/backup-catalog';
import type { BackupReport } from '../../workflows/postgres-backup';
import { waitUntil } from '../harness/daemon';
import { queryPrimary } from '../harness/postgres-data';
import { SecretEnv } from '../harness/sandbox-inventory';
import { pgCtl, postgresRunAs } from '../harness/services/postgres';
import { sandboxBucket } from '../harness/services/minio';
import { downloadToFile, listKeys, readObjectText, sandboxS3 } from '../harness/storage';
import type { VerifyReport } from '../../workflows/backup-verify';
import { sandboxClient, uniqueId } from '../harness/temporal-client';
import { startWorkerProcess, type WorkerProcess } from '../harness/worker-process';

const sandbox = inject('sandbox');
const bundlePath = inject('workflowBundlePath');
let client: Client;
let s3: S3Client;
let worker: WorkerProcess;
let archiver: WorkflowHandle;

beforeAll(async () => {
  client = await sandboxClient(sandbox);
  s3 = sandboxS3(sandbox);
  worker = await startWorkerProcess(sandbox, { bundlePath });
  archiver = await client.workflow.start('walArchiveWorkflow', {
    taskQueue: 'ops',
    workflowId: uniqueId('wal-archive'),
    args: [{ periodSeconds: 10 }],
  });
  // Streaming before any base backup starts, so every base backup's WAL reaches the archive.
  await waitUntil(
    async () => (await sql<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = 'tego_wal_archive'`))[0]?.active === true,
    60_000,
    250,
    'the archiver to stream through its slot',
  );
});

afterAll(async () => {
  // Stopped and finished before the worker goes, so no archiver outlives this file.
  await archiver?.cancel().catch(() => undefined);
  await archiver?.result().catch(() => undefined);
  await worker?.stop();
  await client?.connection.close();
  s3?.destroy();
});

const sql = <T extends object>(query: string, database = 'tego_engine') => queryPrimary<T>(sandbox, query, database);

/**
 * What point-in-time recovery does with the archive (the restore workflow will do it in production):
 * base backup + archived WAL replayed up to `target` in a scratch server on its own port.
 */
async function recoverTo(manifest: BackupManifest, target: string, port: number): Promise<PgClient> {
  const runAs = postgresRunAs();
  const dir = await mkdtemp(join(tmpdir(), 'tego-pitr-'));
  await chmod(dir, 0o755);
  const data = join(dir, 'data');
  const archive = join(dir, 'archive');
  await mkdir(data, { mode: 0o700 });
  await mkdir(archive);
  await downloadToFile(s3, manifest.object.key, join(dir, 'base.tar.zst'));
  execFileSync('bash', ['-o', 'pipefail', '-c', `zstd -d -q -c ${dir}/base.tar.zst | tar -x -C ${data}`]);
  for (const key of await listKeys(s3, 'backups/wal/')) {
    const name = key.split('/').pop()!.replace(/\.zst$/, '');
    await downloadToFile(s3, key, join(archive, `${name}.zst`));
    execFileSync('zstd', ['-d', '-q', '--rm', join(archive, `${name}.zst`), '-o', join(archive, name)]);
  }
  await writeFile(join(data, 'recovery.signal'), '');
  await writeFile(
    join(data, 'postgresql.auto.conf'),
    [
      `port = ${port}`,
      `cluster_name = 'pitr'`,
      `unix_socket_directories = '${dir}'`,
      `restore_command = 'cp ${archive}/%f %p'`,
      `recovery_target_time = '${target}'`,
      `recovery_target_action = 'promote'`,
      '',
    ].join('\n'),
  );
  if (runAs) execFileSync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, dir]);
  await pgCtl({ name: 'pitr', dataDirectory: data, socketDirectory: dir, port }, 'start', { ...runAs });
  const db = new PgClient({ host: '127.0.0.1', port, user: 'postgres', password: sandbox.env[SecretEnv.postgresPassword], database: 'tego_engine' });
  await db.connect();
  db.on('end', () => void pgCtl({ name: 'pitr', dataDirectory: data, socketDirectory: dir, port }, 'stop', { ...runAs }).then(() => rm(dir, { recursive: true, force: true })));
  return db;
}

describe('base backup + WAL archive', () => {
  it('takes a base backup whose manifest names the WAL it needs, in a tar PostgreSQL can start from', async () => {
    const { backups } = await client.workflow.execute<(i: unknown) => Promise<BackupReport>>('baseBackupWorkflow', {
      taskQueue: 'ops',
      workflowId: uniqueId('backup-base'),
      args: [{}],
    });
    const manifest = JSON.parse(await readObjectText(s3, `backups/basebackup/${backups[0].id}/manifest.json`)) as BackupManifest;
    // A switchover test may have run first: the primary's timeline is whatever it is now.
    const [{ timeline }] = await sql<{ timeline: number }>('SELECT timeline_id AS timeline FROM pg_control_checkpoint()', 'postgres');
    expect(manifest.details).toMatchObject({ format: 'pg_basebackup tar', timeline });
    const details = manifest.details as { startLsn: string; startSegment: string; endSegment: string };
    expect(details.startSegment).toBe(walSegmentName(timeline, details.startLsn));
    const dir = await mkdtemp(join(tmpdir(), 'tego-base-'));
    await downloadToFile(s3, manifest.object.key, join(dir, 'base.tar.zst'));
    const listing = execFileSync('bash', ['-o', 'pipefail', '-c', `zstd -d -q -c ${dir}/base.tar.zst | tar -t`], { encoding: 'utf8' });
    expect(listing.split('\n')).toEqual(expect.arrayContaining(['backup_label', 'PG_VERSION', 'global/pg_control']));
    // The archiver receives the segments from the backup's start on.
    await waitUntil(async () => (await listKeys(s3, `backups/wal/${details.endSegment}`)).length === 1, 60_000, 500, `WAL segment ${details.endSegment} in the archive`);
  });

  it('recovers to a moment between two commits: the first is there, the second is not', async () => {
    const base = await client.workflow.execute<(i: unknown) => Promise<BackupReport>>('baseBackupWorkflow', {
      taskQueue: 'ops',
      workflowId: uniqueId('backup-base'),
      args: [{}],
    });
    const manifest = JSON.parse(await readObjectText(s3, `backups/basebackup/${base.backups[0].id}/manifest.json`)) as BackupManifest;
    await sql('CREATE TABLE IF NOT EXISTS pitr_probe (label text PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())');
    await sql(`INSERT INTO pitr_probe (label) VALUES ('A')`);
    const [{ t }] = await sql<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00' AS t`);
    await new Promise((r) => setTimeout(r, 1500));
    await sql(`INSERT INTO pitr_probe (label) VALUES ('B')`);
    const [{ lsn, tl }] = await sql<{ lsn: string; tl: number }>(
      `SELECT pg_current_wal_lsn()::text AS lsn, (SELECT timeline_id FROM pg_control_checkpoint()) AS tl`,
    );
    await sql('SELECT pg_switch_wal()');
    const segment = walSegmentName(tl, lsn);
    await waitUntil(async () => (await listKeys(s3, `backups/wal/${segment}`)).length === 1, 60_000, 500, `WAL segment ${segment} with commit B`);

    const recovered = await recoverTo(manifest, t, sandbox.portBase + 15);
    try {
      await waitUntil(async () => (await recovered.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0].r === false, 60_000, 250, 'recovery to finish');
      const { rows } = await recovered.query<{ label: string }>('SELECT label FROM pitr_probe ORDER BY label');
      expect(rows.map((r) => r.label)).toEqual(['A']);
    } finally {
      await recovered.end();
    }
  });

  it('keeps one archiver alive across its periods (continue-as-new) without losing segments', async () => {
    const before = (await archiver.describe()).runId;
    await waitUntil(async () => (await archiver.describe()).runId !== before, 60_000, 500, 'the archiver to continue as new');
    const names = (await listKeys(s3, 'backups/wal/')).map((k) => k.split('/').pop()!.slice(0, 24)).filter((n) => /^[0-9A-F]{24}$/.test(n));
    const numbers = names.map((n) => parseInt(n.slice(8, 16), 16) * 256 + parseInt(n.slice(16), 16)).sort((a, b) => a - b);
    for (let i = 1; i < numbers.length; i++) expect(numbers[i] - numbers[i - 1]).toBe(1);
    // Completed segments leave the staging directory once uploaded; only the one being written stays.
    const completedInStaging = async () => (await readdir(join(sandbox.stateDir, 'wal-staging'))).filter((f) => /^[0-9A-F]{24}$/.test(f));
    await waitUntil(async () => (await completedInStaging()).length === 0, 30_000, 500, 'the staging directory to drain');
  });

  it('stops when cancelled: the run ends cancelled, not continued, and releases the slot', async () => {
    await archiver.cancel();
    await expect(archiver.result()).rejects.toThrow();
    const runs = [];
    for await (const run of client.workflow.list({ query: `WorkflowId = '${archiver.workflowId}' AND ExecutionStatus = 'Running'` })) runs.push(run);
    expect(runs).toEqual([]);
    expect((await archiver.describe()).status.name).toBe('CANCELLED');
    await waitUntil(
      async () => (await sql<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = 'tego_wal_archive'`))[0]?.active === false,
      30_000,
      250,
      'the replication slot to be released',
    );
  });

  it('verifies the archive: a whole chain passes, an altered segment and a hole are each named', async () => {
    const verify = () =>
      client.workflow.execute<(i: unknown) => Promise<VerifyReport>>('backupVerifyWorkflow', {
        taskQueue: 'ops',
        workflowId: uniqueId('backup-verify'),
        args: [{ kinds: ['basebackup'] }],
      });
    const intact = await verify();
    const walResults = intact.results.filter((r) => r.kind === 'wal');
    expect(walResults[0].ok).toBe(true);
    expect(walResults[0].id).toMatch(/^chain from [0-9A-F]{24}$/);
    expect(walResults.length).toBeGreaterThan(2);
    expect(intact.results.every((r) => r.ok)).toBe(true);

    const segmentKeys = (await listKeys(s3, 'backups/wal/')).filter((k) => /\/[0-9A-F]{24}\.zst$/.test(k)).sort();
    const victim = segmentKeys[Math.floor(segmentKeys.length / 2)];
    const original = await s3.send(new GetObjectCommand({ Bucket: sandboxBucket, Key: victim }));
    const originalBody = await original.Body!.transformToByteArray();
    const restore = () => s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: victim, Body: originalBody, Metadata: original.Metadata }));
    const failureOf = async () => {
      const failure = await verify().catch((e: unknown) => e);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect((failure as WorkflowFailedError).cause).toMatchObject({ type: 'ChecksumMismatch' });
      return (failure as WorkflowFailedError).cause!.message;
    };
    try {
      await s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: victim, Body: Buffer.from('not a segment'), Metadata: original.Metadata }));
      expect(await failureOf()).toMatch(new RegExp(`^1 of \\d+ checks failed: ${victim.replace(/\./g, '\\.')}: sha256 [0-9a-f]{64} does not match the recorded [0-9a-f]{64}$`));

      await s3.send(new DeleteObjectCommand({ Bucket: sandboxBucket, Key: victim }));
      const segment = victim.split('/').pop()!.slice(0, 24);
      expect(await failureOf()).toContain(`segments missing from the archive: ${segment}..${segment}`);
    } finally {
      await restore();
    }
    expect((await verify()).results.every((r) => r.ok)).toBe(true);
  });
});
