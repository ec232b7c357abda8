import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import Docker from 'dockerode';
import { Client } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { instanceContainerSpec } from '../../activities/docker-containers';
import { loadInventory } from '../../inventory/load';
import { appInstances, findService, topologyView } from '../../inventory/topology';
import type { FailoverReport } from '../../workflows/db-failover';
import type { RejoinReport } from '../../workflows/db-rejoin';
import type { SwitchoverReport } from '../../workflows/db-switchover';
import type { Progress } from '../../workflows/progress';
import { waitUntil } from '../harness/daemon';
import { sandboxLayout } from '../harness/layout';
import { SecretEnv } from '../harness/sandbox-inventory';
import { dockerSocket } from '../harness/services/docker-engine';
import { DemoImages } from '../harness/services/images';
import { pgCtl, postgresNodes, postgresRunAs } from '../harness/services/postgres';
import { SandboxLabel } from '../harness/services/apps';
import { failureType } from '../harness/failures';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';
import { startWriteLoad, type WriteLoadReport } from '../harness/write-load';

/**
 * Switchover and failover move the primary of the shared sandbox. Every test leaves pg1 primary and pg2
 * streaming from it again (through the workflows themselves), as the other test files expect.
 */
const suite = useSandbox();
const { sandbox } = suite;
const docker = new Docker({ socketPath: dockerSocket });
const nodes = postgresNodes(sandboxLayout(sandbox.stateDir, sandbox.portBase));
const password = sandbox.env[SecretEnv.postgresPassword];
const portOf = { pg1: nodes.primary.port, pg2: nodes.replica.port } as const;
const probeDatabase = 'failover_probe';

async function query<T extends object>(port: number, sql: string, params: unknown[] = [], database = 'postgres'): Promise<T[]> {
  const db = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database, connectionTimeoutMillis: 3000 });
  db.on('error', () => undefined);
  await db.connect();
  try {
    return (await db.query<T>(sql, params)).rows;
  } finally {
    await db.end();
  }
}

const roles = async () => Object.fromEntries((await loadInventory(sandbox.inventoryPath)).postgres!.nodes.map((n) => [n.name, { role: n.role, fenced: n.fenced }]));
const streamsFrom = async (primary: keyof typeof portOf, replica: string) =>
  (await query<{ state: string }>(primary === 'pg1' ? portOf.pg1 : portOf.pg2, `SELECT state FROM pg_stat_replication WHERE application_name = $1`, [replica])).some((r) => r.state === 'streaming');
const inRecovery = async (port: number) => (await query<{ r: boolean }>(port, 'SELECT pg_is_in_recovery() AS r'))[0].r;

/** Every app that uses the database answers its health check, and says which database it is pointed at. */
async function appDatabases(): Promise<Record<string, string>> {
  const topology = topologyView(await loadInventory(sandbox.inventoryPath));
  const apps = topology.instances.filter((i) => i.usesDatabase);
  const replies = await Promise.all(
    apps.map(async (app) => {
      const response = await fetch(app.healthUrl);
      expect(response.status, `${app.containerName} health`).toBe(200);
      return [app.containerName, ((await response.json()) as { database: string }).database] as const;
    }),
  );
  return Object.fromEntries(replies);
}

async function ackedRowsMissingOn(port: number, load: WriteLoadReport): Promise<number[]> {
  const present = new Set((await query<{ id: string }>(port, 'SELECT id FROM writes', [], probeDatabase)).map((r) => Number(r.id)));
  return load.acknowledged.filter((id) => !present.has(id));
}

async function resetProbeTable(): Promise<void> {
  const primaryPort = (await inRecovery(portOf.pg1)) ? portOf.pg2 : portOf.pg1;
  await query(primaryPort, 'DROP TABLE IF EXISTS writes', [], probeDatabase);
  await query(primaryPort, 'CREATE TABLE writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())', [], probeDatabase);
}

const writeLoad = () => startWriteLoad({ ports: [portOf.pg1, portOf.pg2], password, database: probeDatabase, table: 'writes' });

function run<T>(workflowType: string, input: Record<string, unknown>) {
  return suite.client.workflow.start<(i: unknown) => Promise<T>>(workflowType, { taskQueue: 'ops', workflowId: uniqueId(workflowType), args: [input] });
}


async function changeRecord(workflowId: string, port: number): Promise<{ outcome: string; summary: string } | undefined> {
  const [record] = await query<{ outcome: string; summary: string }>(port, 'SELECT outcome, summary FROM tego_ops.change_records WHERE workflow_id = $1', [workflowId], 'tego_ops');
  return record;
}

beforeAll(async () => {
  if ((await query(portOf.pg1, 'SELECT 1 FROM pg_database WHERE datname = $1', [probeDatabase])).length === 0) await query(portOf.pg1, `CREATE DATABASE ${probeDatabase}`);
  await resetProbeTable();
});

afterAll(async () => {
  // Whatever a failed test left: pg1 back as primary, pg2 streaming from it.
  const current = await roles().catch(() => null);
  if (current && current.pg1.role !== 'primary') {
    if (current.pg1.fenced) await suite.client.workflow.execute('dbRejoinWorkflow', { taskQueue: 'ops', workflowId: uniqueId('cleanup-rejoin'), args: [{ node: 'pg1' }] });
    await suite.client.workflow.execute('dbSwitchoverWorkflow', { taskQueue: 'ops', workflowId: uniqueId('cleanup-switchover'), args: [{ replica: 'pg1' }] });
  }
});

describe('dbSwitchoverWorkflow', () => {
  it('a dry run reports the plan and changes nothing', async () => {
    const report = await (await run<SwitchoverReport>('dbSwitchoverWorkflow', { dryRun: true })).result();
    expect(report).toMatchObject({ dryRun: true, from: 'pg1', to: 'pg2', state: { streaming: true, replicaInRecovery: true, backupsInProgress: 0 } });
    expect(report.plan).toContain('promote pg2 and check it is on a new timeline');
    expect(await roles()).toEqual({ pg1: { role: 'primary', fenced: false }, pg2: { role: 'replica', fenced: false } });
    expect(await inRecovery(portOf.pg1)).toBe(false);
  });

  it('refuses a replica that lags over maxLagBytes, with the figures, and changes nothing', async () => {
    const containersBefore = await docker.listContainers({ filters: { label: [`${SandboxLabel}=${sandbox.id}`] } });
    await query(portOf.pg2, 'SELECT pg_wal_replay_pause()');
    try {
      // About 30 MB of WAL the paused replica does not replay: over the sandbox's 16 MiB limit.
      await query(portOf.pg1, `CREATE TABLE IF NOT EXISTS ballast (id int, pad text)`, [], probeDatabase);
      await query(portOf.pg1, `INSERT INTO ballast SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 30000) g`, [], probeDatabase);
      const handle = await run<SwitchoverReport>('dbSwitchoverWorkflow', {});
      const failure = await handle.result().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      const cause = (failure as WorkflowFailedError).cause as { type?: string; message: string };
      expect(cause.type).toBe('PreconditionFailed');
      expect(cause.message).toMatch(/pg2 lags [\d.]+ MiB behind pg1, over maxLagBytes 16 MiB/);
      expect(cause.message).toContain('nothing changed');
    } finally {
      await query(portOf.pg2, 'SELECT pg_wal_replay_resume()');
      await query(portOf.pg1, 'DROP TABLE IF EXISTS ballast', [], probeDatabase);
    }
    expect(await roles()).toEqual({ pg1: { role: 'primary', fenced: false }, pg2: { role: 'replica', fenced: false } });
    expect(await inRecovery(portOf.pg1)).toBe(false);
    const containersAfter = await docker.listContainers({ filters: { label: [`${SandboxLabel}=${sandbox.id}`] } });
    expect(containersAfter.map((c) => c.Id).sort()).toEqual(containersBefore.map((c) => c.Id).sort());
  });

  it('hands over to the replica under continuous writes: every acknowledged commit survives, apps follow, the old primary streams from the new', async () => {
    await waitUntil(() => streamsFrom('pg1', 'pg2'), 30_000, 250, 'pg2 to stream');
    await resetProbeTable();
    const load = writeLoad();
    await new Promise((r) => setTimeout(r, 1000));
    const handle = await run<SwitchoverReport>('dbSwitchoverWorkflow', { requestedBy: 'sre@test', reason: 'planned maintenance of pg1' });
    const report = await handle.result();
    await new Promise((r) => setTimeout(r, 1000));
    const writes = await load.stop();

    expect(report).toMatchObject({ from: 'pg1', to: 'pg2', oldPrimary: { rejoined: true } });
    expect(report.timeline!.after).toBeGreaterThan(report.timeline!.before);
    expect(writes.acknowledged.length).toBeGreaterThan(50);
    expect(writes.servedBy).toEqual([portOf.pg1, portOf.pg2]);
    expect(await ackedRowsMissingOn(portOf.pg2, writes)).toEqual([]);
    console.log(`switchover: ${writes.acknowledged.length} acknowledged writes, ${writes.failures} failed, longest outage ${writes.longestOutageSeconds.toFixed(2)} s`);

    expect(await inRecovery(portOf.pg2)).toBe(false);
    expect(await inRecovery(portOf.pg1)).toBe(true);
    expect(await streamsFrom('pg2', 'pg1')).toBe(true);
    expect(await roles()).toEqual({ pg1: { role: 'replica', fenced: false }, pg2: { role: 'primary', fenced: false } });
    expect(new Set(Object.values(await appDatabases()))).toEqual(new Set([`127.0.0.1:${portOf.pg2}`]));
    expect(await changeRecord(handle.workflowId, portOf.pg2)).toMatchObject({ outcome: 'succeeded' });
  });

  it('a worker killed in the middle resumes, and the switchover back to pg1 finishes correctly', async () => {
    await resetProbeTable();
    const load = writeLoad();
    const handle = await run<SwitchoverReport>('dbSwitchoverWorkflow', { replica: 'pg1' });
    await suite.killWorkerAt(handle, (s) => s.name === 'promote pg1' && s.status === 'done', 'the switchover to promote pg1');
    const report = await handle.result();
    const writes = await load.stop();

    expect(report).toMatchObject({ from: 'pg2', to: 'pg1', oldPrimary: { rejoined: true } });
    expect(writes.servedBy.at(-1)).toBe(portOf.pg1);
    expect(await ackedRowsMissingOn(portOf.pg1, writes)).toEqual([]);
    expect(await roles()).toEqual({ pg1: { role: 'primary', fenced: false }, pg2: { role: 'replica', fenced: false } });
    expect(await streamsFrom('pg1', 'pg2')).toBe(true);
    expect(new Set(Object.values(await appDatabases()))).toEqual(new Set([`127.0.0.1:${portOf.pg1}`]));
    // No app container lost or doubled by the retried steps.
    const names = (await docker.listContainers({ all: true, filters: { label: [`${SandboxLabel}=${sandbox.id}`] } })).map((c) => c.Names[0].slice(1));
    expect(names.filter((n) => n.endsWith('-previous'))).toEqual([]);
    expect(new Set(names).size).toBe(names.length);
  }, 300_000);

  it('a failure after promotion, while repointing the apps, is compensated: apps back on pg1, which takes writes, pg2 follows it', async () => {
    // The last app to be repointed runs an image that is no longer on the host, so it cannot be recreated.
    const inventory = await loadInventory(sandbox.inventoryPath);
    const doomed = topologyView(inventory).instances.filter((i) => i.usesDatabase).at(-1)!;
    const instance = appInstances(inventory).find((i) => i.containerName === doomed.containerName)!;
    const doomedImage = 'tego-demo:doomed';
    execFileSync('docker', ['tag', DemoImages.v1, doomedImage]);
    await docker.getContainer(doomed.containerName).remove({ force: true });
    const service = findService(inventory, instance.service);
    await (await docker.createContainer(instanceContainerSpec(inventory, service, instance, doomedImage, {}, { labels: { [SandboxLabel]: sandbox.id } }))).start();
    execFileSync('docker', ['rmi', '-f', doomedImage]);
    await waitUntil(() => fetch(doomed.healthUrl).then((r) => r.ok, () => false), 30_000, 200, 'the doomed app to start');

    try {
      const handle = await run<SwitchoverReport>('dbSwitchoverWorkflow', {});
      const failure = await handle.result().catch((err: unknown) => err);
      expect(failure).toBeInstanceOf(WorkflowFailedError);
      expect(failureType(failure)).toBe('ImageMissing');
      const progress = await handle.query<Progress>('progress');
      expect(progress.steps.find((s) => s.name === 'promote pg2')?.status).toBe('undone');

      expect(await inRecovery(portOf.pg1)).toBe(false);
      await query(portOf.pg1, 'INSERT INTO writes (id) VALUES (-1)', [], probeDatabase);
      await waitUntil(() => streamsFrom('pg1', 'pg2'), 30_000, 250, 'pg2 to stream from pg1 again');
      expect(await inRecovery(portOf.pg2)).toBe(true);
      expect(await roles()).toEqual({ pg1: { role: 'primary', fenced: false }, pg2: { role: 'replica', fenced: false } });
      expect(new Set(Object.values(await appDatabases()))).toEqual(new Set([`127.0.0.1:${portOf.pg1}`]));
      expect(await changeRecord(handle.workflowId, portOf.pg1)).toMatchObject({ outcome: 'compensated' });
    } finally {
      await docker.getContainer(doomed.containerName).remove({ force: true });
      await (await docker.createContainer(instanceContainerSpec(inventory, service, instance, DemoImages.v1, {}, { labels: { [SandboxLabel]: sandbox.id } }))).start();
      await waitUntil(() => fetch(doomed.healthUrl).then((r) => r.ok, () => false), 30_000, 200, `${doomed.containerName} to be healthy again`);
    }
  });
});

describe('dbFailoverWorkflow', () => {
  it('refuses to fail over while the primary answers', async () => {
    const failure = await (await run<FailoverReport>('dbFailoverWorkflow', { probes: 2, probeInterval: '200ms' })).result().catch((err: unknown) => err);
    expect(((failure as WorkflowFailedError).cause as { type?: string; message: string }).message).toMatch(/pg1 answered on probe 1 of 2: it is not down/);
    expect(await roles()).toEqual({ pg1: { role: 'primary', fenced: false }, pg2: { role: 'replica', fenced: false } });
  });

  it('refuses a replica that lacks more than maxLagBytes of the dead primary\'s WAL, says how much, and changes nothing', async () => {
    await waitUntil(() => streamsFrom('pg1', 'pg2'), 30_000, 250, 'pg2 to stream');
    // Cut pg2 off from pg1, write ~30 MB it never receives, then kill pg1.
    const [{ primary_conninfo: conninfo }] = await query<{ primary_conninfo: string }>(portOf.pg2, 'SHOW primary_conninfo');
    await query(portOf.pg2, `ALTER SYSTEM SET primary_conninfo = ''`);
    await query(portOf.pg2, 'SELECT pg_reload_conf()');
    await waitUntil(async () => !(await streamsFrom('pg1', 'pg2')), 30_000, 250, 'pg2 to stop streaming');
    await query(portOf.pg1, 'CREATE TABLE IF NOT EXISTS ballast (id int, pad text)', [], probeDatabase);
    await query(portOf.pg1, 'INSERT INTO ballast SELECT g, repeat(md5(g::text), 30) FROM generate_series(1, 30000) g', [], probeDatabase);
    const containersBefore = await docker.listContainers({ filters: { label: [`${SandboxLabel}=${sandbox.id}`] } });
    const postmaster = Number(readFileSync(join(nodes.primary.dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    try {
      const failure = await (await run<FailoverReport>('dbFailoverWorkflow', { probes: 2, probeInterval: '500ms' })).result().catch((err: unknown) => err);
      expect(failureType(failure)).toBe('PreconditionFailed');
      expect((failure as WorkflowFailedError).cause?.message).toMatch(/pg2 lacks [\d.]+ MiB of pg1's WAL \(received [0-9A-F/]+, the primary's WAL ends at [0-9A-F/]+\), over maxLagBytes 16 MiB; start it with force/);
      expect(await inRecovery(portOf.pg2)).toBe(true);
      expect(existsSync(join(nodes.primary.dataDirectory, 'standby.signal'))).toBe(false);
      expect(await roles()).toEqual({ pg1: { role: 'primary', fenced: false }, pg2: { role: 'replica', fenced: false } });
      const containersAfter = await docker.listContainers({ filters: { label: [`${SandboxLabel}=${sandbox.id}`] } });
      expect(containersAfter.map((c) => c.Id).sort()).toEqual(containersBefore.map((c) => c.Id).sort());
    } finally {
      // Put it back: pg1 recovers from the crash as the primary, pg2 follows it again. The killed
      // postmaster must be gone (reaped) first, or the new one takes it for a server still running.
      await waitUntil(async () => !existsSync(`/proc/${postmaster}`), 30_000, 100, 'the killed postmaster to be reaped');
      await pgCtl(nodes.primary, 'start', { ...postgresRunAs() });
      await query(portOf.pg2, `ALTER SYSTEM SET primary_conninfo = '${conninfo.replace(/'/g, "''")}'`);
      await query(portOf.pg2, 'SELECT pg_reload_conf()');
      await query(portOf.pg1, 'DROP TABLE IF EXISTS ballast', [], probeDatabase);
      await waitUntil(() => streamsFrom('pg1', 'pg2'), 60_000, 250, 'pg2 to stream from pg1 again');
    }
  });

  it('after kill -9 of the primary: promotes pg2, repoints the apps, fences pg1 so it cannot take writes; db-rejoin brings it back', async () => {
    await waitUntil(() => streamsFrom('pg1', 'pg2'), 30_000, 250, 'pg2 to stream');
    await resetProbeTable();
    const load = writeLoad();
    await new Promise((r) => setTimeout(r, 1000));
    const postmaster = Number(readFileSync(join(nodes.primary.dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    const handle = await run<FailoverReport>('dbFailoverWorkflow', { requestedBy: 'sre@test' });
    const report = await handle.result();
    await new Promise((r) => setTimeout(r, 1000));
    const writes = await load.stop();

    expect(report).toMatchObject({ failedPrimary: 'pg1', newPrimary: 'pg2', fenced: { onDisk: true }, forced: false, detection: { probes: 6 } });
    expect(report.timeline.after).toBeGreaterThan(report.timeline.before);
    expect(report.dataLoss.bytes).not.toBeNull();
    // The estimate is checked against the rows: nothing missing from the WAL means no acknowledged commit
    // missing, and a missing commit means a loss was reported.
    const missing = await ackedRowsMissingOn(portOf.pg2, writes);
    if (report.dataLoss.bytes === 0) expect(missing).toEqual([]);
    if (missing.length > 0) expect(report.dataLoss.bytes).toBeGreaterThan(0);
    console.log(`failover: recovered in ${report.timeToRecoverySeconds.toFixed(1)} s (detection ${report.detection.periodSeconds.toFixed(1)} s), data loss ${report.dataLoss.bytes} bytes, ${missing.length} acknowledged commits missing`);
    expect(writes.servedBy.at(-1)).toBe(portOf.pg2);
    expect(await roles()).toEqual({ pg1: { role: 'replica', fenced: true }, pg2: { role: 'primary', fenced: false } });
    expect(new Set(Object.values(await appDatabases()))).toEqual(new Set([`127.0.0.1:${portOf.pg2}`]));
    const record = await changeRecord(handle.workflowId, portOf.pg2);
    expect(record?.outcome).toBe('succeeded');
    expect(record?.summary).toMatch(/data lost: \d+ bytes; recovered in [\d.]+ s/);

    // Someone starts the old primary again: it comes up read-only and refuses the apps' writes.
    expect(existsSync(join(nodes.primary.dataDirectory, 'standby.signal'))).toBe(true);
    await pgCtl(nodes.primary, 'start', { ...postgresRunAs() });
    try {
      await waitUntil(() => query(portOf.pg1, 'SELECT 1').then(() => true, () => false), 60_000, 250, 'the fenced pg1 to accept connections');
      expect(await inRecovery(portOf.pg1)).toBe(true);
      await expect(query(portOf.pg1, 'INSERT INTO writes (id) VALUES (-2)', [], probeDatabase)).rejects.toThrow(/read-only/);
    } finally {
      await pgCtl(nodes.primary, 'stop', { ...postgresRunAs() });
    }

    const rejoin = await (await run<RejoinReport>('dbRejoinWorkflow', { node: 'pg1' })).result();
    expect(rejoin).toMatchObject({ node: 'pg1', primary: 'pg2' });
    console.log(`rejoin of the fenced pg1: ${rejoin.method}${rejoin.rewindProblem ? ` (pg_rewind: ${rejoin.rewindProblem})` : ''}`);
    expect(existsSync(join(nodes.primary.dataDirectory, 'tego-ops.fenced'))).toBe(false);
    expect(await streamsFrom('pg2', 'pg1')).toBe(true);
    expect(await roles()).toEqual({ pg1: { role: 'replica', fenced: false }, pg2: { role: 'primary', fenced: false } });

    const back = await (await run<SwitchoverReport>('dbSwitchoverWorkflow', { replica: 'pg1' })).result();
    expect(back).toMatchObject({ from: 'pg2', to: 'pg1', oldPrimary: { rejoined: true } });
    expect(await streamsFrom('pg1', 'pg2')).toBe(true);
  }, 300_000);
});
