import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import type { BackupManifest } from '../../inventory/backup-catalog';
import type { BackupReport } from '../../workflows/postgres-backup';
import type { RestoreReport } from '../../workflows/restore';
import { loadInventory } from '../../inventory/load';
import { topologyView } from '../../inventory/topology';
import { queryPrimary } from '../harness/postgres-data';
import { dockerSocket } from '../harness/services/docker-engine';
import { sandboxBucket } from '../harness/services/minio';
import { listKeys, readObjectText } from '../harness/storage';
import { waitUntil } from '../harness/daemon';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';

const suite = useSandbox();
const docker = new Docker({ socketPath: dockerSocket });
const prefix = suite.sandbox.containerNamePrefix;
/** The sandbox services that use the database (usesDatabase in the inventory). */
const dbApps = ['tego-os-server-host1-1', 'tego-os-server-host2-1', 'tego-mcp-host2-1', 'tego-llm-host1-1'].map((name) => `${prefix}${name}`);

const sql = <T extends object>(query: string, database = 'tego_engine') => queryPrimary<T>(suite.sandbox, query, database);
const databases = async () => (await sql<{ datname: string }>('SELECT datname FROM pg_database ORDER BY 1', 'postgres')).map((r) => r.datname);
const labels = async (database = 'tego_engine') => (await sql<{ label: string }>('SELECT label FROM restore_probe ORDER BY label', database)).map((r) => r.label);
const running = async (container: string) => (await docker.getContainer(container).inspect()).State.Running;
/** Its health endpoint answers 2xx, asked directly (not through the workflow's own gate). */
const healthy = async (container: string) => {
  const instance = topologyView(await loadInventory(suite.sandbox.inventoryPath)).instances.find((i) => i.containerName === container)!;
  return fetch(instance.healthUrl).then((r) => r.ok, () => false);
};

function startRestore(input: Record<string, unknown>): Promise<WorkflowHandle> {
  return suite.client.workflow.start('restoreWorkflow', { taskQueue: 'ops', workflowId: uniqueId('restore'), args: [input] });
}

async function outcomeOf(workflowId: string): Promise<{ outcome: string; summary: string }> {
  const [record] = await sql<{ outcome: string; summary: string }>(`SELECT outcome, summary FROM tego_ops.change_records WHERE workflow_id = '${workflowId}'`, 'tego_ops');
  return record;
}

afterAll(async () => {
  for (const name of await databases()) {
    if (/^tego_engine__(before|restore)_/.test(name)) await sql(`DROP DATABASE "${name}" WITH (FORCE)`, 'postgres');
  }
});

describe('restoreWorkflow', () => {
  it('brings the database back to the backup, keeps the old one, and the apps come back healthy', async () => {
    await sql('CREATE TABLE IF NOT EXISTS restore_probe (label text PRIMARY KEY)');
    await sql('TRUNCATE restore_probe');
    await sql(`INSERT INTO restore_probe VALUES ('in the backup')`);
    const { backups } = await suite.run<BackupReport>('postgresBackupWorkflow', { databases: ['tego_engine'] });
    await sql(`INSERT INTO restore_probe VALUES ('written after the backup')`);

    const handle = await startRestore({ backupId: backups[0].id, requestedBy: 'ops-test', reason: 'restore test' });
    const report = (await handle.result()) as RestoreReport;

    expect(report).toMatchObject({ database: 'tego_engine', restoredFrom: backups[0].id, appsRestarted: dbApps });
    expect(await labels()).toEqual(['in the backup']);
    expect(await labels(report.previousDatabaseKeptAs)).toEqual(['in the backup', 'written after the backup']);
    const safety = JSON.parse(await readObjectText(suite.s3, `backups/postgres/${report.safetyBackup}/manifest.json`)) as BackupManifest;
    expect(safety.details.rowCounts).toMatchObject({ 'public.restore_probe': 2 });
    for (const app of dbApps) {
      expect(await running(app)).toBe(true);
      expect(await healthy(app)).toBe(true);
    }
    expect(await outcomeOf(handle.workflowId)).toMatchObject({ outcome: 'succeeded' });
  });

  it('a dump that breaks in the middle is undone: the data is as it was and the apps are healthy again', async () => {
    await sql(`INSERT INTO restore_probe VALUES ('precious') ON CONFLICT DO NOTHING`);
    const before = await labels();
    // A real dump, cut in half and stored as a complete backup whose checksum matches: pg_restore fails mid-way.
    const { backups } = await suite.run<BackupReport>('postgresBackupWorkflow', { databases: ['tego_engine'] });
    const good = JSON.parse(await readObjectText(suite.s3, `backups/postgres/${backups[0].id}/manifest.json`)) as BackupManifest;
    const stored = Buffer.from(await (await suite.s3.send(new GetObjectCommand({ Bucket: sandboxBucket, Key: good.object.key }))).Body!.transformToByteArray());
    const dump = execFileSync('zstd', ['-d', '-c'], { input: stored });
    const broken = execFileSync('zstd', ['-c', '-q'], { input: dump.subarray(0, Math.floor(dump.length * 0.6)) });
    const id = `tego_engine-broken-${Date.now()}`;
    const key = `backups/postgres/${id}/tego_engine.dump.zst`;
    await suite.s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: key, Body: broken }));
    const manifest: BackupManifest = {
      ...good,
      id,
      object: { key, size: broken.length, sha256: createHash('sha256').update(broken).digest('hex') },
      finishedAt: new Date(Date.parse(good.finishedAt) - 1000).toISOString(),
    };
    await suite.s3.send(new PutObjectCommand({ Bucket: sandboxBucket, Key: `backups/postgres/${id}/manifest.json`, Body: JSON.stringify(manifest) }));

    const handle = await startRestore({ backupId: id });
    const failure = await (handle.result() as Promise<unknown>).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    // The workflow fails with the activity's failure, whose cause is pg_restore's.
    const cause = (failure as WorkflowFailedError).cause!.cause as Error & { type?: string };
    expect(cause).toMatchObject({ type: 'RestoreFailed' });
    expect(cause.message).toMatch(new RegExp(`^pg_restore of ${key.replace(/\./g, '\\.')} failed: pg_restore exited with 1`));

    expect(await labels()).toEqual(before);
    expect((await databases()).filter((d) => /^tego_engine__restore_/.test(d))).toEqual([]);
    for (const app of dbApps) {
      expect(await running(app)).toBe(true);
      expect(await healthy(app)).toBe(true);
    }
    const record = await outcomeOf(handle.workflowId);
    expect(record.outcome).toBe('compensated');
    expect(record.summary).toMatch(/undid: restore tego_engine-broken-\d+ into tego_engine__restore_\w+; .*undid: stop /);
  });

  it('restores the database as it was at a moment (base backup + WAL), and the apps are healthy again', async () => {
    const archiver = await suite.client.workflow.start('walArchiveWorkflow', { taskQueue: 'ops', workflowId: uniqueId('wal-archive'), args: [{ periodSeconds: 30 }] });
    try {
      await waitUntil(
        async () => (await sql<{ active: boolean }>(`SELECT active FROM pg_replication_slots WHERE slot_name = 'tego_wal_archive'`, 'postgres'))[0]?.active === true,
        60_000,
        250,
        'the archiver to stream',
      );
      await suite.run<BackupReport>('baseBackupWorkflow', {});
      await sql(`INSERT INTO restore_probe VALUES ('before the moment')`);
      const [{ t }] = await sql<{ t: string }>(`SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS t`);
      await new Promise((r) => setTimeout(r, 1500));
      await sql(`INSERT INTO restore_probe VALUES ('after the moment')`);
      const [{ segment }] = await sql<{ segment: string }>('SELECT pg_walfile_name(pg_current_wal_lsn()) AS segment');
      await sql('SELECT pg_switch_wal()');
      await waitUntil(async () => (await listKeys(suite.s3, 'backups/wal/')).some((k) => k.endsWith(`/${segment}.zst`)), 60_000, 500, `WAL segment ${segment} archived`);

      const report = await suite.run<RestoreReport>('restoreWorkflow', { targetTime: t });
      expect(report.restoredFrom).toMatch(new RegExp(`^base-\\S+ \\+ WAL to ${t.replace(/\./g, '\\.')}$`));
      const restored = await labels();
      expect(restored).toContain('before the moment');
      expect(restored).not.toContain('after the moment');
      expect(await labels(report.previousDatabaseKeptAs)).toContain('after the moment');
      for (const app of dbApps) expect(await healthy(app)).toBe(true);
      expect(await readdir(join(suite.sandbox.stateDir, 'scratch')).catch(() => [])).toEqual([]);
    } finally {
      await archiver.cancel();
      await archiver.result().catch(() => undefined);
    }
  });

  it('refuses an unknown backup or database before touching anything', async () => {
    const startedAt = await Promise.all(dbApps.map(async (c) => (await docker.getContainer(c).inspect()).State.StartedAt));
    for (const [input, type, message] of [
      [{ backupId: 'tego_engine-19990101T000000Z-000000' }, 'UnknownTarget', /^no complete PostgreSQL backup "tego_engine-19990101T000000Z-000000" \(newest of tego_engine: /],
      [{ database: 'nope' }, 'UnknownTarget', /^unknown database nope \(backed-up databases: tego_engine\)$/],
    ] as const) {
      const handle = await startRestore(input);
      const failure = await (handle.result() as Promise<unknown>).catch((e: unknown) => e);
      expect((failure as WorkflowFailedError).cause).toMatchObject({ type });
      expect((failure as WorkflowFailedError).cause!.message).toMatch(message);
    }
    expect(await Promise.all(dbApps.map(async (c) => (await docker.getContainer(c).inspect()).State.StartedAt))).toEqual(startedAt);
  });
});
