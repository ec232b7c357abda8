/**
 * PostgreSQL switchover and failover under continuous writes (issue: failover), in one run on one sandbox:
 *   (a) the guide's 数据库故障恢复 as written: stop the apps, `SELECT pg_promote()` on the replica, recreate
 *       the apps with POSTGRES_HOST = the replica, start them — the old primary is never stopped;
 *   (b) tego-ops dbSwitchoverWorkflow (writes stopped, replica caught up, promote, repoint, rejoin);
 *   (c) tego-ops dbFailoverWorkflow after `kill -9` of the primary, 6 probes 1 s apart (a 5 s detection
 *       period), timed from the kill to every app healthy on the new primary.
 * A client writes without pause throughout, following whichever node takes writes (as libpq's
 * target_session_attrs=read-write does), and records each acknowledged commit; afterwards the new primary
 * is searched for every one. Between (a) and (b) the diverged old primary is brought back with db-rejoin.
 * Run: npx tsx bench/failover.ts [--keep]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { Command } from 'commander';
import { Client } from 'pg';
import { instanceContainerSpec } from '../activities/docker-containers';
import { InventoryFile } from '../inventory/inventory-file';
import { loadInventory } from '../inventory/load';
import { appInstances, findService, topologyView } from '../inventory/topology';
import { sandboxLayout } from '../test/harness/layout';
import type { SandboxState } from '../test/harness/sandbox';
import { SecretEnv } from '../test/harness/sandbox-inventory';
import { SandboxLabel } from '../test/harness/services/apps';
import { dockerSocket } from '../test/harness/services/docker-engine';
import { postgresNodes } from '../test/harness/services/postgres';
import { uniqueId } from '../test/harness/temporal-client';
import { startWriteLoad, type WriteLoadReport } from '../test/harness/write-load';
import type { FailoverReport } from '../workflows/db-failover';
import type { SwitchoverReport } from '../workflows/db-switchover';
import { runBench } from './bench-sandbox';
import { peakRssMiB } from './measure';

const options = new Command().option('--keep', 'leave the sandbox running afterwards', false).parse().opts<{ keep: boolean }>();

// Below 32768: ports above are the kernel's ephemeral range, where an outgoing connection may take one first.
const bench = { stateDir: '/tmp/tego-bench-failover', portBase: 25000, containerNamePrefix: 'benchf-' };
const database = 'bench_failover';
const docker = new Docker({ socketPath: dockerSocket });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function query<T extends object>(sandbox: SandboxState, port: number, sql: string, db = 'postgres'): Promise<T[]> {
  const client = new Client({ host: '127.0.0.1', port, user: 'postgres', password: sandbox.env[SecretEnv.postgresPassword], database: db });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

interface Outcome {
  seconds: number;
  writes: WriteLoadReport;
  lost: number;
}

/** Runs `work` under the write load (1 s of load before and after) and counts acknowledged commits missing on `newPrimaryPort`. */
async function underLoad(sandbox: SandboxState, ports: number[], newPrimaryPort: number, work: () => Promise<unknown>): Promise<Outcome> {
  await query(sandbox, newPrimaryPort === ports[0] ? ports[1] : ports[0], 'SELECT 1').catch(() => undefined);
  const load = startWriteLoad({ ports, password: sandbox.env[SecretEnv.postgresPassword], database, table: 'writes' });
  await sleep(1000);
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await sleep(1000);
  const writes = await load.stop();
  const present = new Set((await query<{ id: string }>(sandbox, newPrimaryPort, 'SELECT id FROM writes', database)).map((r) => Number(r.id)));
  return { seconds, writes, lost: writes.acknowledged.filter((id) => !present.has(id)).length };
}

/** The guide's switchover: stop the apps, promote the replica, recreate the apps pointed at it, start them. */
async function guideSwitchover(sandbox: SandboxState, replica: string): Promise<void> {
  const inventory = await loadInventory(sandbox.inventoryPath);
  const target = inventory.postgres!.nodes.find((n) => n.name === replica)!;
  const apps = appInstances(inventory).filter((i) => findService(inventory, i.service).usesDatabase);
  for (const app of apps) await docker.getContainer(app.containerName).stop({ t: 30 });
  await query(sandbox, target.port, 'SELECT pg_promote()');
  for (const app of apps) {
    const image = (await docker.getContainer(app.containerName).inspect()).Config.Image;
    await docker.getContainer(app.containerName).remove({ force: true });
    const spec = instanceContainerSpec(inventory, findService(inventory, app.service), app, image, {}, { labels: { [SandboxLabel]: sandbox.id }, database: target });
    await (await docker.createContainer(spec)).start();
  }
}

/** Polls every app that uses the database until each answers healthy pointed at `port`; returns when all do. */
async function appsHealthyOn(sandbox: SandboxState, port: number): Promise<void> {
  const apps = topologyView(await loadInventory(sandbox.inventoryPath)).instances.filter((i) => i.usesDatabase);
  for (;;) {
    const ok = await Promise.all(
      apps.map((a) =>
        fetch(a.healthUrl, { signal: AbortSignal.timeout(1000) })
          .then(async (r) => r.ok && ((await r.json()) as { database?: string }).database === `127.0.0.1:${port}`)
          .catch(() => false),
      ),
    );
    if (ok.every(Boolean)) return;
    await sleep(100);
  }
}

runBench(bench, options.keep, async ({ sandbox, client, worker }) => {
  const nodes = postgresNodes(sandboxLayout(sandbox.stateDir, sandbox.portBase));
  const ports = [nodes.primary.port, nodes.replica.port];
  const execute = <T>(workflowType: string, input: unknown) =>
    client.workflow.execute<(i: unknown) => Promise<T>>(workflowType, { taskQueue: 'ops', workflowId: uniqueId(`bench-${workflowType}`), args: [input] });
  await query(sandbox, ports[0], `CREATE DATABASE ${database}`);
  await query(sandbox, ports[0], 'CREATE TABLE writes (id bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT clock_timestamp())', database);

  console.log('[bench] (a) the guide: stop apps, pg_promote() on pg2, apps recreated on pg2 ...');
  const guide = await underLoad(sandbox, ports, ports[1], () => guideSwitchover(sandbox, 'pg2'));
  // Put the sandbox back the way a person would: ops.yaml says pg2 is primary, then db-rejoin pg1 (pg_rewind).
  await new InventoryFile(sandbox.inventoryPath, await loadInventory(sandbox.inventoryPath)).setPostgresRoles({ primary: 'pg2', fenced: [] });
  await execute('dbRejoinWorkflow', { node: 'pg1' });
  await query(sandbox, ports[1], 'TRUNCATE writes', database);

  console.log('[bench] (b) tego-ops dbSwitchoverWorkflow pg2 → pg1 ...');
  let switchover: SwitchoverReport | undefined;
  const ours = await underLoad(sandbox, ports, ports[0], async () => (switchover = await execute<SwitchoverReport>('dbSwitchoverWorkflow', { replica: 'pg1' })));
  await query(sandbox, ports[0], 'TRUNCATE writes', database);

  console.log('[bench] (c) kill -9 of pg1, then dbFailoverWorkflow (6 probes, 1 s apart: a 5 s detection period) ...');
  let failover: FailoverReport | undefined;
  let killToHealthy = 0;
  const failed = await underLoad(sandbox, ports, ports[1], async () => {
    const postmaster = Number(readFileSync(join(nodes.primary.dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const killedAt = process.hrtime.bigint();
    process.kill(postmaster, 'SIGKILL');
    const run = execute<FailoverReport>('dbFailoverWorkflow', { probes: 6, probeInterval: '1s' });
    await appsHealthyOn(sandbox, ports[1]);
    killToHealthy = Number(process.hrtime.bigint() - killedAt) / 1e9;
    failover = await run;
  });
  const rss = await peakRssMiB(worker.child.pid!);

  const line = (name: string, o: Outcome) =>
    `${name.padEnd(44)} ${o.seconds.toFixed(1).padStart(6)} s   ${String(o.writes.acknowledged.length).padStart(6)} acked   ${String(o.writes.failures).padStart(4)} failed   ` +
    `write outage ${o.writes.longestOutageSeconds.toFixed(2).padStart(5)} s   lost ${o.lost}`;
  console.log('\nSwitchover and failover under continuous writes, one run (2 cores; every acknowledged commit looked up on the new primary):\n');
  console.log(line('(a) guide: stop apps, pg_promote, repoint', guide));
  console.log(line('(b) tego-ops dbSwitchoverWorkflow', ours));
  console.log(line('(c) tego-ops dbFailoverWorkflow after kill -9', failed));
  console.log(
    `\n(a) left the old primary writable: the writer kept committing to it, and ${guide.lost} acknowledged commits are not on the new primary (split brain).` +
      `\n(b) write outage ${ours.writes.longestOutageSeconds.toFixed(2)} s (goal ≤ 5 s), lost commits ${ours.lost} (goal 0); old primary ${switchover?.oldPrimary?.rejoined ? 'streams from the new one' : 'NOT rejoined'}.` +
      `\n(c) kill -9 → every app healthy on pg2: ${killToHealthy.toFixed(1)} s with a ${failover?.detection.periodSeconds.toFixed(1)} s detection period (goal ≤ 15 s; Patroni's defaults ≈ 30–45 s);` +
      ` the workflow's own time to recovery ${failover?.timeToRecoverySeconds.toFixed(1)} s; estimated loss ${failover?.dataLoss.bytes} bytes, ${failed.lost} acknowledged commits missing.` +
      `\nworker peak RSS ${rss} MiB`,
  );
});
