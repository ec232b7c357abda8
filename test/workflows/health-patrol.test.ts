import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Docker from 'dockerode';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import Redis from 'ioredis';
import { Client as PgClient } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load';
import { topologyView } from '../../inventory/topology';
import type { IncidentStatus } from '../../workflows/incident-signals';
import type { PatrolReport } from '../../workflows/health-patrol';
import type { InspectionReport } from '../../workflows/inspection-report';
import { tegoOps } from '../harness/cli';
import { waitUntil } from '../harness/daemon';
import { sandboxLayout } from '../harness/layout';
import { queryPrimary } from '../harness/postgres-data';
import { SecretEnv } from '../harness/sandbox-inventory';
import { receivedMails, receivedWebhooks, type ReceivedWebhook } from '../harness/services/alert-sinks';
import { dockerSocket } from '../harness/services/docker-engine';
import { pgCtl, postgresNodes, postgresRunAs } from '../harness/services/postgres';
import { startRedis, stopRedis } from '../harness/services/redis';
import { sandboxBucket } from '../harness/services/minio';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';
import { startWorkerProcess } from '../harness/worker-process';

const suite = useSandbox();
const { sandbox } = suite;
const layout = sandboxLayout(sandbox.stateDir, sandbox.portBase);
const docker = new Docker({ socketPath: dockerSocket });
const patrolId = uniqueId('patrol');
/** Short, so a test sees several patrols; production patrols every 30 s. */
const patrolEvery = '2s';

async function instanceOf(service: string, host: string) {
  const topology = topologyView(await loadInventory(sandbox.inventoryPath));
  return topology.instances.find((i) => i.service === service && i.host === host)!;
}

async function patrolReport(): Promise<PatrolReport | null> {
  return suite.client.workflow.getHandle(patrolId).query<PatrolReport | null>('patrolReport');
}

/** Waits until `count` more patrols have finished. */
async function patrolsPass(count: number, timeoutMs = 60_000): Promise<void> {
  const from = (await patrolReport())?.patrol ?? 0;
  await waitUntil(async () => ((await patrolReport())?.patrol ?? 0) >= from + count, timeoutMs, 250, `${count} more patrols`);
}

function incident(dedupKey: string) {
  return suite.client.workflow.getHandle(`incident-${dedupKey}`);
}

async function incidentStatus(dedupKey: string): Promise<IncidentStatus> {
  return incident(dedupKey).query<IncidentStatus>('incidentStatus');
}

/** Webhook notifications about one incident run (its id is in every notification). */
async function webhooksOf(incidentId: string): Promise<ReceivedWebhook[]> {
  return (await receivedWebhooks(layout)).filter((w) => w.body.tego?.incidentId === incidentId);
}

async function waitForIncident(dedupKey: string): Promise<IncidentStatus> {
  let status: IncidentStatus | undefined;
  await waitUntil(
    async () => {
      status = await incidentStatus(dedupKey).catch(() => undefined);
      return status?.state === 'firing' || status?.state === 'acknowledged';
    },
    60_000,
    200,
    `incident ${dedupKey} to open`,
  );
  return status!;
}

async function waitForWebhook(incidentId: string, kind: string, what: string): Promise<ReceivedWebhook> {
  let found: ReceivedWebhook | undefined;
  await waitUntil(async () => (found = (await webhooksOf(incidentId)).find((w) => w.body.tego?.kind === kind)) !== undefined, 90_000, 250, what);
  return found!;
}

async function incidentEvents(incidentId: string): Promise<{ event: string; actor: string | null }[]> {
  return queryPrimary(sandbox, `SELECT event, actor FROM tego_ops.incident_events WHERE incident_id = '${incidentId}' ORDER BY seq`, 'tego_ops');
}

async function waitForResolution(dedupKey: string): Promise<IncidentStatus> {
  return incident(dedupKey).result() as Promise<IncidentStatus>;
}

/** The worker serves /metrics here, so the patrol's gauges can be read. */
const metricsPort = sandbox.portBase + 90;

beforeAll(async () => {
  await suite.worker.stop();
  suite.worker = await startWorkerProcess(sandbox, { bundlePath: suite.bundlePath, metricsPort });
  await suite.client.workflow.start('healthPatrolWorkflow', { taskQueue: 'ops', workflowId: patrolId, args: [{ every: patrolEvery }] });
  await patrolsPass(1);
});

afterAll(async () => {
  await suite.client.workflow.getHandle(patrolId).terminate('test finished').catch(() => undefined);
  for await (const run of suite.client.workflow.list({ query: `(TegoKind = 'incident' OR TegoKind = 'alert-silences') AND ExecutionStatus = 'Running'` })) {
    await suite.client.workflow.getHandle(run.workflowId, run.runId).terminate('test finished').catch(() => undefined);
  }
});

describe('healthPatrolWorkflow and incidents', () => {
  it('a stopped app container opens one P1 incident with one notification, escalates until acked, and resolves when it is back', async () => {
    const instance = await instanceOf('tego-os', 'host1');
    const dedupKey = `app-instance-down:${instance.containerName}`;
    const stoppedAt = Date.now();
    await docker.getContainer(instance.containerName).stop({ t: 1 });
    try {
      const opened = await waitForIncident(dedupKey);
      expect(opened.alert).toMatchObject({ rule: 'app-instance-down', priority: 'P1', service: 'tego-os' });
      expect(opened.alert.description).toContain(`docker start ${instance.containerName}`);
      const first = await waitForWebhook(opened.incidentId, 'firing', 'the firing notification');
      console.log(`stopped container noticed and notified after ${((Date.parse(first.receivedAt) - stoppedAt) / 1000).toFixed(1)} s (patrol every ${patrolEvery})`);
      expect(first.body.text).toContain('[P1] FIRING');
      expect(first.body.text).toContain('@oncall-primary');
      expect(first.body.tego).toMatchObject({ notificationId: `${opened.incidentId}#1`, level: 0, contact: 'oncall-primary', priority: 'P1' });

      // Later patrols still see it: the same incident is updated, never a second one or a second firing page.
      await patrolsPass(3);
      expect((await webhooksOf(opened.incidentId)).filter((w) => w.body.tego?.kind === 'firing')).toHaveLength(1);
      const runs = [];
      for await (const run of suite.client.workflow.list({ query: `WorkflowId = 'incident-${dedupKey}'` })) runs.push(run.runId);
      expect(runs).toHaveLength(1);
      const mail = (await receivedMails(layout)).find((m) => m.raw.includes(`X-Tego-Incident: ${opened.incidentId}`));
      expect(mail?.subject).toContain('[P1] FIRING');
      expect(mail?.raw).toMatch(/^Message-ID:\s+<incident-app-instance-down\.[^>]*#1@tego-ops>/m);
      expect(mail?.to.sort()).toEqual(['oncall-primary@tego.example', 'ops@tego.example']);

      // Nobody acknowledges within escalateAfter (15 s in the sandbox): the next contact is paged.
      const escalation = await waitForWebhook(opened.incidentId, 'escalation', 'the escalation to the second contact');
      expect(escalation.body.tego).toMatchObject({ level: 1, contact: 'oncall-secondary' });
      expect(escalation.body.text).toContain('ESCALATED to oncall-secondary');

      const acked = await tegoOps(sandbox, ['ack', dedupKey, '--by', 'alice', '--comment', 'looking']);
      expect(acked.code).toBe(0);
      expect(acked.stdout).toContain('acknowledged by alice');
      const sentBeforeAck = (await webhooksOf(opened.incidentId)).length;
      // Longer than escalateAfter: an unacknowledged incident would have paged the third contact by now.
      await new Promise((r) => setTimeout(r, 20_000));
      expect(await webhooksOf(opened.incidentId)).toHaveLength(sentBeforeAck);
      expect(await incidentStatus(dedupKey)).toMatchObject({ state: 'acknowledged', level: 1, acknowledged: { by: 'alice', comment: 'looking' } });
    } finally {
      await docker.getContainer(instance.containerName).start().catch(() => undefined);
    }
    const resolved = await waitForResolution(dedupKey);
    expect(resolved.state).toBe('resolved');
    const notice = await waitForWebhook(resolved.incidentId, 'resolved', 'the resolved notice');
    expect(notice.body.text).toContain('[P1] RESOLVED');
    const events = await incidentEvents(resolved.incidentId);
    expect(events.map((e) => e.event)).toEqual(['opened', 'notified:firing', 'notified:escalation', 'acknowledged', 'resolved', 'notified:resolved']);
    expect(events.find((e) => e.event === 'acknowledged')?.actor).toBe('alice');
  });

  it("publishes each patrol's figures as Prometheus gauges on the worker's /metrics", async () => {
    await patrolsPass(1);
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const instance = await instanceOf('tego-os', 'host1');
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}.]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1]);
    expect(value(`tego_app_up{service="tego-os",host="host1",container="${instance.containerName}"}`)).toBe(1);
    expect(value('tego_redis_up{target="redis"}')).toBe(1);
    expect(value('tego_redis_memory_ratio{target="redis"}')).toBeLessThan(0.85);
    expect(value('tego_frontend_up{service="tego-os"}')).toBe(1);
    expect(Date.now() / 1000 - value('tego_patrol_last_run_timestamp_seconds')).toBeLessThan(60);
    expect(text).toMatch(/^tego_postgres_connections_ratio\{node="[^"]+"\} 0\.\d+$/m);
    expect(text).toMatch(/^tego_task_queue_backlog\{task_queue="ops"\} \d+$/m);
  });

  it('restarts a crashed container once and resolves without a person', async () => {
    const instance = await instanceOf('tego-os-server', 'host1');
    const dedupKey = `app-instance-down:${instance.containerName}`;
    const before = await docker.getContainer(instance.containerName).inspect();
    await docker.getContainer(instance.containerName).kill();
    const opened = await waitForIncident(dedupKey);
    expect(opened.alert.remediation).toMatchObject({ kind: 'restart-container', container: instance.containerName });
    const resolved = await waitForResolution(dedupKey);
    expect(resolved.remediation).toMatchObject({ outcome: 'fixed' });
    const after = await docker.getContainer(instance.containerName).inspect();
    expect(after.State.Running).toBe(true);
    expect(after.Id).toBe(before.Id); // restarted, not replaced
    const events = (await incidentEvents(resolved.incidentId)).map((e) => e.event);
    expect(events.filter((e) => e === 'remediation-started')).toHaveLength(1);
    expect(events).toContain('remediation-fixed');
    expect(events.at(-1)).toBe('notified:resolved');
    await waitForWebhook(resolved.incidentId, 'resolved', 'the resolved notice');
  });

  it('escalates at once when the restart does not fix it, and restarts only once', async () => {
    const instance = await instanceOf('tego-os-server', 'host2');
    const dedupKey = `app-instance-down:${instance.containerName}`;
    const restore = await breakHealth(instance.containerName);
    try {
      const opened = await waitForIncident(dedupKey);
      await waitForWebhook(opened.incidentId, 'firing', 'the firing notification');
      // The restart's health gate gives up after 30 s: the next contact is paged at once, saying so.
      let escalation: ReceivedWebhook | undefined;
      await waitUntil(
        async () => (escalation = (await webhooksOf(opened.incidentId)).find((w) => w.body.tego?.kind === 'escalation' && w.body.text.includes('failed — still unhealthy after one restart'))) !== undefined,
        90_000,
        250,
        'the escalation after the failed restart',
      );
      expect(escalation!.body.text).toMatch(/Auto-remediation \(restart .*\): failed — still unhealthy after one restart/);
      const status = await incidentStatus(dedupKey);
      expect(status.remediation?.outcome).toBe('failed');
      await patrolsPass(3);
      const events = (await incidentEvents(opened.incidentId)).map((e) => e.event);
      expect(events.filter((e) => e === 'remediation-started')).toHaveLength(1);
      expect(events).toContain('remediation-failed');
    } finally {
      await restore();
    }
    expect((await waitForResolution(dedupKey)).state).toBe('resolved');
  });

  it('a worker killed while an incident is open loses nothing: no second page, the ack and the resolved notice still work', async () => {
    const instance = await instanceOf('tego-os', 'host1');
    const dedupKey = `app-instance-down:${instance.containerName}`;
    await docker.getContainer(instance.containerName).stop({ t: 1 });
    let incidentId = '';
    try {
      incidentId = (await waitForIncident(dedupKey)).incidentId;
      await waitForWebhook(incidentId, 'firing', 'the firing notification');
      await suite.worker.kill();
      await new Promise((r) => setTimeout(r, 3000));
      suite.worker = await startWorkerProcess(sandbox, { bundlePath: suite.bundlePath, metricsPort });
      // A patrol whose activities were on the dead worker waits out their timeouts first.
      await patrolsPass(2, 120_000);
      expect((await tegoOps(sandbox, ['ack', dedupKey, '--by', 'carol'])).code).toBe(0);
    } finally {
      await docker.getContainer(instance.containerName).start().catch(() => undefined);
    }
    expect((await waitForResolution(dedupKey)).acknowledged?.by).toBe('carol');
    await waitForWebhook(incidentId, 'resolved', 'the resolved notice');
    // Killed between sending and recording, a notification is sent again (at least once) with the same id,
    // which receivers drop; the incident never pages twice on its own.
    const firing = (await webhooksOf(incidentId)).filter((w) => w.body.tego?.kind === 'firing');
    expect(new Set(firing.map((w) => w.body.tego?.notificationId))).toEqual(new Set([`${incidentId}#1`]));
  });

  it('a stopped dependency is an alert, not a broken patrol: Redis down opens redis-down, started again it resolves', async () => {
    await stopRedis(layout);
    try {
      const opened = await waitForIncident('redis-down:redis');
      expect(opened.alert).toMatchObject({ priority: 'P1' });
      expect(opened.alert.description).toMatch(/ECONNREFUSED|connect/);
      await patrolsPass(2); // the patrol carries on while Redis is away
    } finally {
      await startRedis(layout, sandbox.env[SecretEnv.redisPassword]);
    }
    expect((await waitForResolution('redis-down:redis')).state).toBe('resolved');
  });

  it('a P0 on a service mutes its lower alerts', async () => {
    const instance = await instanceOf('tego-mcp', 'host2'); // its only instance: the service is down
    await docker.getContainer(instance.containerName).kill();
    const p0 = await waitForIncident('service-down:tego-mcp');
    expect(p0.alert.priority).toBe('P0');
    await waitUntil(async () => (await incidentStatus(`app-instance-down:${instance.containerName}`).catch(() => null))?.inhibitedBy === 'service-down:tego-mcp', 30_000, 250, 'the P1 to be inhibited');
    await waitForWebhook(p0.incidentId, 'firing', 'the P0 page');
    // tego-mcp may be restarted by its incident: both close when the patrol sees it back.
    const muted = await waitForResolution(`app-instance-down:${instance.containerName}`);
    expect(muted.notifications.filter((n) => n.delivered.length > 0)).toEqual([]);
    expect((await waitForResolution('service-down:tego-mcp')).state).toBe('resolved');
  });

  it('Redis filled past 85 % of maxmemory raises redis-memory at P2, cleared when memory is freed', async () => {
    const redis = new Redis({ host: '127.0.0.1', port: layout.ports.redis, password: sandbox.env[SecretEnv.redisPassword] });
    const value = 'x'.repeat(1024 * 1024);
    try {
      for (let i = 0; i < 240; i++) await redis.set(`patrol-test:fill:${i}`, value);
      const opened = await waitForIncident('redis-memory:redis');
      expect(opened.alert).toMatchObject({ rule: 'redis-memory', priority: 'P2' });
      expect(opened.alert.value).toBeGreaterThan(85);
      expect((await patrolReport())?.alerts.map((a) => a.dedupKey)).toContain('redis-memory:redis');
      // P2 waits notifyWithin (2 s in the sandbox) before the first notice, then reminds every repeatEvery (20 s).
      const first = await waitForWebhook(opened.incidentId, 'firing', 'the P2 notification');
      expect(Date.parse(first.receivedAt) - Date.parse(opened.openedAt)).toBeGreaterThanOrEqual(2000);
      const reminder = await waitForWebhook(opened.incidentId, 'repeat', 'the reminder while it still fires');
      expect(reminder.body.tego).toMatchObject({ level: 0, contact: 'oncall-primary' });
      expect(reminder.body.text).toContain('[P2] STILL FIRING');
    } finally {
      const keys = await redis.keys('patrol-test:fill:*');
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
    }
    expect((await waitForResolution('redis-memory:redis')).state).toBe('resolved');
  });

  it('a silence holds notifications until it expires', async () => {
    const instance = await instanceOf('tego-os', 'host2');
    const dedupKey = `app-instance-down:${instance.containerName}`;
    const silenced = await tegoOps(sandbox, ['silence', 'add', '--match', 'rule=app-instance-down', '--match', 'service=tego-os', '--for', '25s', '--comment', 'planned maintenance', '--by', 'bob', '--json']);
    expect(silenced.code).toBe(0);
    const silence = JSON.parse(silenced.stdout) as { id: string; endsAt: string };
    const listed = await tegoOps(sandbox, ['silence', 'list']);
    expect(listed.stdout).toContain(silence.id);
    await waitUntil(async () => (await incidentEvents(`silence:${silence.id}`)).some((e) => e.event === 'silence-created' && e.actor === 'bob'), 30_000, 250, 'the silence in the audit table');
    await docker.getContainer(instance.containerName).stop({ t: 1 });
    try {
      const opened = await waitForIncident(dedupKey);
      await waitUntil(async () => (await incidentStatus(dedupKey)).notifications.some((n) => n.silencedBy === silence.id), 30_000, 250, 'the silenced notification');
      expect(await webhooksOf(opened.incidentId)).toEqual([]);
      const first = await waitForWebhook(opened.incidentId, 'firing', 'the notification after the silence expired');
      expect(Date.parse(first.receivedAt)).toBeGreaterThanOrEqual(Date.parse(silence.endsAt));
    } finally {
      await docker.getContainer(instance.containerName).start().catch(() => undefined);
    }
    expect((await waitForResolution(dedupKey)).state).toBe('resolved');
  });

  it('a primary database that is down starts the failover workflow, waiting for approval; rejected, nothing changes', async () => {
    const nodes = postgresNodes(layout);
    const inventory = await loadInventory(sandbox.inventoryPath);
    const primary = inventory.postgres!.nodes.find((n) => n.role === 'primary')!;
    expect(primary.dataDirectory).toBe(nodes.primary.dataDirectory); // the sandbox as it starts: pg1 primary
    const dedupKey = `postgres-primary-down:${primary.name}`;
    const postmaster = Number(readFileSync(join(nodes.primary.dataDirectory, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(postmaster, 'SIGKILL');
    try {
      const opened = await waitForIncident(dedupKey);
      expect(opened.alert).toMatchObject({ priority: 'P0', remediation: { kind: 'failover', node: primary.name } });
      let failoverId = '';
      await waitUntil(
        async () => {
          const status = await incidentStatus(dedupKey);
          failoverId = /tego-ops approve (\S+)/.exec(status.remediation?.detail ?? '')?.[1] ?? '';
          return status.remediation?.outcome === 'started' && failoverId !== '';
        },
        30_000,
        250,
        'the failover to be started',
      );
      const failover = suite.client.workflow.getHandle(failoverId);
      await waitUntil(async () => (await failover.query<{ phase: string }>('changeStatus')).phase.startsWith('waiting for approval'), 60_000, 250, 'the failover to wait for approval');
      const page = await waitForWebhook(opened.incidentId, 'firing', 'the P0 page');
      expect(page.body.text).toContain('[P0] FIRING');
      await failover.signal('reject', { by: 'alice', comment: 'the host is being rebooted' });
      await expect(failover.result()).rejects.toThrow();
      expect((await loadInventory(sandbox.inventoryPath)).postgres!.nodes.map((n) => [n.name, n.role, n.fenced])).toEqual(
        inventory.postgres!.nodes.map((n) => [n.name, n.role, n.fenced]),
      );
    } finally {
      // pg1 recovers from the crash as the primary; the killed postmaster must be reaped first.
      await waitUntil(async () => !existsSync(`/proc/${postmaster}`), 30_000, 100, 'the killed postmaster to be reaped');
      await pgCtl(nodes.primary, 'start', { ...postgresRunAs() });
    }
    expect((await waitForResolution(dedupKey)).state).toBe('resolved');
    // The apps that lost their database come back healthy with it; their incidents close too.
    await waitUntil(async () => !(await patrolReport())?.alerts.some((a) => a.rule === 'app-instance-down' || a.rule === 'service-down'), 120_000, 500, 'every app to be healthy again');
  });

  it('refuses a silence without a valid matcher, touching nothing', async () => {
    const bad = await tegoOps(sandbox, ['silence', 'add', '--match', 'colour=red', '--for', '1h', '--comment', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected label=value with label one of rule, target, service, priority');
    const unknown = await tegoOps(sandbox, ['ack', 'no-such-rule:nothing']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no incident no-such-rule:nothing');
  });
});

describe('dailyInspectionWorkflow', () => {
  it("reports the guide's daily checklist since the previous run, stores it and sends a summary", async () => {
    const first = await suite.run<{ report: InspectionReport }>('dailyInspectionWorkflow', {});
    expect(first.report.health.counts.up).toBeGreaterThan(0);

    // What the next inspection must find: 401s and 403s through nginx, a 5xx logged by an app, a failed login.
    const inventory = await loadInventory(sandbox.inventoryPath);
    const frontend = inventory.loadBalancer!.frontends.find((f) => f.service === 'tego-os')!;
    const url = `http://127.0.0.1:${frontend.listen}/login`;
    for (const status of [401, 401, 401, 403, 403, 500]) expect((await fetch(`${url}?status=${status}`)).status).toBe(status);
    const intruder = new PgClient({ host: '127.0.0.1', port: layout.ports.postgresPrimary, user: 'intruder', password: 'guess', database: 'postgres' });
    await expect(intruder.connect()).rejects.toThrow(/password authentication failed|does not exist/);

    const { report, keys, notified } = await suite.run<{ report: InspectionReport; keys: string[]; notified: { delivered: unknown[] } }>('dailyInspectionWorkflow', {});
    expect(report.since).toBe(first.report.finishedAt);
    expect(report.security.denied).toMatchObject({ unauthorized: 3, forbidden: 2 });
    expect(report.security.denied?.byClient[0]).toMatchObject({ client: '127.0.0.1', unauthorized: 3, forbidden: 2 });
    const primaryLogins = report.security.failedLogins.find((f) => f.node === inventory.postgres!.nodes[0].name);
    expect(primaryLogins?.byUser).toEqual({ intruder: 1 });
    const errors = report.logErrors.flatMap((h) => h.containers).filter((c) => c.errors > 0);
    expect(errors.map((c) => c.service)).toContain('tego-os');
    expect(errors.flatMap((c) => c.samples).join('\n')).toContain('answered 500 on purpose');
    expect(report.resources.flatMap((h) => h.containers).some((c) => c.state === 'running' && c.memoryBytes !== null)).toBe(true);
    expect(report.findings.some((f) => f.includes('1 failed PostgreSQL login'))).toBe(true);
    expect(report.findings.some((f) => f.includes('3 × 401 and 2 × 403'))).toBe(true);

    const markdown = await suite.s3.send(new GetObjectCommand({ Bucket: sandboxBucket, Key: keys[1] }));
    const text = await markdown.Body!.transformToString();
    expect(text).toContain(`# Daily inspection ${report.id}`);
    expect(text).toContain('nginx: 3 × 401, 2 × 403');
    expect(notified.delivered.length).toBeGreaterThan(0);
    const summary = (await receivedWebhooks(layout)).find((w) => w.body.tego?.kind === 'report' && w.body.text.includes(report.id));
    expect(summary?.body.text).toContain('failed PostgreSQL login');
  });
});

/** Recreates a container with its health check failing (HEALTH=fail); returns how to put it back. */
async function breakHealth(name: string): Promise<() => Promise<void>> {
  const original = await docker.getContainer(name).inspect();
  const recreate = async (env: string[]) => {
    await docker.getContainer(name).remove({ force: true });
    const created = await docker.createContainer({
      name,
      Image: original.Config.Image,
      Env: env,
      Labels: original.Config.Labels,
      ExposedPorts: original.Config.ExposedPorts,
      HostConfig: original.HostConfig,
    });
    await created.start();
  };
  await recreate([...(original.Config.Env ?? []), 'HEALTH=fail']);
  return () => recreate(original.Config.Env ?? []);
}
