import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../inventory/backup-catalog';
import type { DrillReport } from '../../workflows/drill-report';
import type { BackupReport } from '../../workflows/postgres-backup';
import { progressQuery } from '../../workflows/progress';
import { waitUntil } from '../harness/daemon';
import { ensureBulkDatabase, queryPrimary } from '../harness/postgres-data';
import { sandboxBucket } from '../harness/services/minio';
import { listKeys, readObjectText } from '../harness/storage';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';

const suite = useSandbox();
const scratchRoot = join(suite.sandbox.stateDir, 'scratch');
const manifestOf = async (kind: string, id: string) => JSON.parse(await readObjectText(suite.s3, `backups/${kind}/${id}/manifest.json`)) as BackupManifest;

/** Nothing a drill started is left: no directory, no server process pointing into one. */
async function expectNoScratchLeft(): Promise<void> {
  expect(await readdir(scratchRoot).catch(() => [])).toEqual([]);
  const processes = execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' });
  expect(processes.split('\n').filter((line) => line.includes(scratchRoot))).toEqual([]);
}

function startDrill(input: Record<string, unknown>): Promise<WorkflowHandle> {
  return suite.client.workflow.start('restoreDrillWorkflow', { taskQueue: 'ops', workflowId: uniqueId('drill'), args: [input] });
}

/** A drill of a ~300 MB dump, returned once its restore step is running: long enough to interrupt. */
async function drillUnderWay(): Promise<{ database: string; handle: WorkflowHandle }> {
  const database = 'drill_bulk';
  await ensureBulkDatabase(suite.sandbox, database, 1_500_000);
  const dump = await suite.run<BackupReport>('postgresBackupWorkflow', { databases: [database] });
  const handle = await startDrill({ backupId: dump.backups[0].id, redis: false });
  await waitUntil(
    async () => (await handle.query(progressQuery).catch(() => undefined))?.steps.some((s) => s.name.startsWith('restore') && s.status === 'running') ?? false,
    60_000,
    200,
    'the restore to be under way',
  );
  return { database, handle };
}

async function failureOf(handle: WorkflowHandle): Promise<Error & { type?: string; details?: unknown[] }> {
  const failure = await (handle.result() as Promise<unknown>).catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(WorkflowFailedError);
  return (failure as WorkflowFailedError).cause as Error & { type?: string; details?: unknown[] };
}

const sql = <T extends object>(query: string, database = 'tego_engine') => queryPrimary<T>(suite.sandbox, query, database);

describe('restoreDrillWorkflow', () => {
  it('restores the newest dump and RDB into scratch instances, proves them exactly, reports RTO/RPO and removes them', async () => {
    const dump = await suite.run<BackupReport>('postgresBackupWorkflow', {});
    const rdb = await suite.run<BackupReport>('redisBackupWorkflow', {});
    const report = await suite.run<DrillReport>('restoreDrillWorkflow', {});

    expect(report).toMatchObject({ ok: true, host: 'host1', problems: [] });
    expect(report.postgres).toHaveLength(1);
    const [restored] = report.postgres;
    expect(restored).toMatchObject({ backupId: dump.backups[0].id, database: 'tego_engine', rowMismatches: [] });
    const manifest = await manifestOf('postgres', dump.backups[0].id);
    expect(restored.tables).toBe(Object.keys(manifest.details.rowCounts as object).length);
    expect(restored.assertions).toEqual([{ database: 'tego_engine', sql: 'SELECT count(*) > 0 FROM workflows', ok: true, value: 'true' }]);
    const redisManifest = await manifestOf('redis', rdb.backups[0].id);
    expect(report.redis).toEqual({ backupId: rdb.backups[0].id, expectedKeys: redisManifest.details.keys, keys: redisManifest.details.keys });
    expect(report.rtoSeconds).toBeGreaterThan(0);
    expect(report.rpoSeconds).toBeGreaterThanOrEqual(0);

    const stored = JSON.parse(await readObjectText(suite.s3, `backups/drills/${report.drillId}/report.json`)) as DrillReport;
    expect(stored).toEqual(report);
    expect(await readObjectText(suite.s3, `backups/drills/${report.drillId}/summary.txt`)).toMatch(/^restore drill \S+ on host1: PASSED\nRTO [\d.]+ s, RPO \d+ s\n/);
    await expectNoScratchLeft();

    // The freshness report now knows a drill passed.
    const status = await suite.run<{ kinds: { kind: string; latest: { id: string } | null; stale: boolean }[] }>('backupStatusWorkflow', {});
    expect(status.kinds.find((k) => k.kind === 'drill')).toMatchObject({ latest: { id: report.drillId }, stale: false });
  });

  it('fails on an altered dump, naming the object and both checksums, and leaves no scratch instance', async () => {
    const dump = await suite.run<BackupReport>('postgresBackupWorkflow', {});
    const manifest = await manifestOf('postgres', dump.backups[0].id);
    const original = Buffer.from(await (await suite.s3.send(new GetObjectCommand({ Bucket: sandboxBucket, Key: manifest.object.key }))).Body!.transformToByteArray());
    const altered = Buffer.from(original);
    altered[Math.floor(altered.length / 2)] ^= 0xff; // one bit flip, same size
    await suite.s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: manifest.object.key, Body: altered }));

    const handle = await startDrill({ backupId: manifest.id, redis: false });
    const cause = await failureOf(handle);
    expect(cause.type).toBe('DrillFailed');
    expect(cause.message).toMatch(
      new RegExp(`^restore drill drill-\\S+ failed: ${manifest.object.key.replace(/\./g, '\\.')}: sha256 [0-9a-f]{64} does not match the manifest's ${manifest.object.sha256}$`),
    );
    const report = cause.details?.[0] as DrillReport;
    expect(report).toMatchObject({ ok: false, rtoSeconds: null });
    expect(JSON.parse(await readObjectText(suite.s3, `backups/drills/${report.drillId}/report.json`))).toMatchObject({ ok: false });
    await expectNoScratchLeft();
  });

  it('recovers to a moment between two commits: the first is there, the second is not', async () => {
    const archiver = await suite.client.workflow.start('walArchiveWorkflow', { taskQueue: 'ops', workflowId: uniqueId('wal-archive'), args: [{ periodSeconds: 30 }] });
    try {
      await waitUntil(
        async () => (await sql<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = 'tego_wal_archive'`))[0]?.active === true,
        60_000,
        250,
        'the archiver to stream',
      );
      await suite.run<BackupReport>('baseBackupWorkflow', {});
      await sql('CREATE TABLE IF NOT EXISTS drill_probe (label text PRIMARY KEY)');
      const label = `a${Date.now()}`;
      await sql(`INSERT INTO drill_probe VALUES ('${label}')`);
      const [{ t }] = await sql<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`);
      await new Promise((r) => setTimeout(r, 1500));
      await sql(`INSERT INTO drill_probe VALUES ('${label}-later')`);
      const [{ segment }] = await sql<{ segment: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
      await sql('SELECT pg_switch_wal()');
      const archived = async () => (await listKeys(suite.s3, 'backups/wal/')).some((k) => k.endsWith(`/${segment}.zst`));
      await waitUntil(archived, 60_000, 500, `WAL segment ${segment} archived`);

      const report = await suite.run<DrillReport>('restoreDrillWorkflow', {
        targetTime: t,
        redis: false,
        assertions: [{ sql: `SELECT EXISTS (SELECT 1 FROM drill_probe WHERE label = '${label}') AND NOT EXISTS (SELECT 1 FROM drill_probe WHERE label = '${label}-later')` }],
      });
      expect(report.ok).toBe(true);
      expect(report.pitr).toMatchObject({ targetTime: t });
      expect(report.pitr!.assertions.map((a) => a.ok)).toEqual([true, true]);
      expect(report.pitr!.walSegments).toBeGreaterThan(0);
      await expectNoScratchLeft();
    } finally {
      await archiver.cancel();
      await archiver.result().catch(() => undefined);
    }
  });

  it('survives a killed worker in the middle of a restore: completes, and leaves no scratch instance', async () => {
    const { database, handle } = await drillUnderWay();
    await new Promise((r) => setTimeout(r, 1000));
    await suite.worker.kill();
    await suite.restartWorker();
    const report = (await handle.result()) as DrillReport;
    expect(report.ok).toBe(true);
    expect(report.postgres[0]).toMatchObject({ database, rowMismatches: [] });
    await expectNoScratchLeft();
  });

  it('cancelled in the middle of a restore, it still removes everything and stores its report', async () => {
    const { handle } = await drillUnderWay();
    await handle.cancel();
    const failure = await (handle.result() as Promise<unknown>).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect((failure as WorkflowFailedError).cause?.name).toBe('CancelledFailure');
    const { steps } = await handle.query(progressQuery);
    expect(steps.find((s) => s.name.startsWith('remove the scratch instances'))).toMatchObject({ status: 'done' });
    expect(steps.find((s) => s.name === 'store the drill report')).toMatchObject({ status: 'done' });
    const newest = (await listKeys(suite.s3, 'backups/drills/')).filter((k) => k.endsWith('/report.json')).sort().at(-1)!;
    expect(JSON.parse(await readObjectText(suite.s3, newest))).toMatchObject({ ok: false, problems: ['cancelled'] });
    await expectNoScratchLeft();
  });

  it('refuses what cannot be drilled before starting anything', async () => {
    const unknown = await failureOf(await startDrill({ backupId: 'tego_engine-19990101T000000Z-000000' }));
    expect(unknown.type).toBe('UnknownTarget');
    expect(unknown.message).toMatch(/^no complete PostgreSQL backup "tego_engine-19990101T000000Z-000000" \(newest: [^)]+\)$/);

    const early = await failureOf(await startDrill({ targetTime: '2001-01-01T00:00:00Z' }));
    expect(early.type).toBe('TargetOutsideWal');
    expect(early.message).toMatch(/^no base backup finished before 2001-01-01T00:00:00Z \(the oldest finished at .+\): outside the recovery window$/);

    const future = await failureOf(await startDrill({ targetTime: '2999-01-01T00:00:00Z' }));
    expect(future).toMatchObject({ type: 'TargetOutsideWal', message: 'target time 2999-01-01T00:00:00Z is in the future' });

    const both = await failureOf(await startDrill({ backupId: 'x', targetTime: '2026-01-01T00:00:00Z' }));
    expect(both.type).toBe('InvalidInput');
    expect(both.message).toContain('targetTime: give backupId or targetTime, not both');
    await expectNoScratchLeft();
  });
});
