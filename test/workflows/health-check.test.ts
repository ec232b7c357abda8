import { execFileSync } from 'node:child_process';
import type { Client } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { HealthReport } from '../../workflows/health-report';
import { waitUntil } from '../harness/daemon';
import { sandboxLayout } from '../harness/layout';
import { SecretEnv } from '../harness/sandbox-inventory';
import { pgCtl, postgresNodes, postgresRunAs } from '../harness/services/postgres';
import { startRedis, stopRedis } from '../harness/services/redis';
import { sandboxClient, uniqueId } from '../harness/temporal-client';
import { startWorkerProcess, type WorkerProcess } from '../harness/worker-process';

const sandbox = inject('sandbox');
const bundlePath = inject('workflowBundlePath');
const layout = sandboxLayout(sandbox.stateDir, sandbox.portBase);
/** The test sandbox's container names carry a prefix, apart from the interactive sandbox's. */
const prefix = sandbox.containerNamePrefix;
let client: Client;
let worker: WorkerProcess;

async function runHealthCheck(input: unknown = {}, workflowId = uniqueId('health')): Promise<HealthReport> {
  return client.workflow.execute<(input: unknown) => Promise<HealthReport>>('healthCheckWorkflow', {
    taskQueue: 'ops',
    workflowId,
    args: [input],
  });
}

function find(report: HealthReport, kind: string, target: string) {
  const found = report.components.find((c) => c.kind === kind && c.target === target);
  if (!found) throw new Error(`no ${kind} ${target} in the report`);
  return found;
}

function notUp(report: HealthReport): string[] {
  return report.components.filter((c) => c.status !== 'up').map((c) => `${c.kind}/${c.target}`);
}

beforeAll(async () => {
  client = await sandboxClient(sandbox);
  worker = await startWorkerProcess(sandbox, { bundlePath });
});

afterAll(async () => {
  await worker?.stop();
  await client?.connection.close();
});

describe('healthCheckWorkflow', () => {
  it('reports every component of a healthy sandbox up, with latencies', async () => {
    const report = await runHealthCheck();
    expect(notUp(report)).toEqual([]);
    expect(report.overall).toBe('healthy');
    const kinds = report.components.map((c) => c.kind);
    expect(kinds.filter((k) => k === 'app')).toHaveLength(7);
    expect(kinds.filter((k) => k === 'load-balancer')).toHaveLength(4);
    expect(kinds.filter((k) => k === 'container')).toHaveLength(7);
    expect(kinds.filter((k) => k === 'docker')).toHaveLength(2);
    expect(find(report, 'postgres', 'pg1').detail).toMatchObject({ role: 'primary' });
    expect(find(report, 'postgres', 'pg2').detail).toMatchObject({ role: 'replica', walReceiver: 'streaming' });
    expect(find(report, 'postgres', 'pg2').detail.lagBytes).toBeTypeOf('number');
    expect(find(report, 'redis', 'redis').detail).toMatchObject({ role: 'master' });
    expect(find(report, 'storage', 'tego-backups').status).toBe('up');
    expect(find(report, 'app', `${prefix}tego-os-host1-1`).detail).toMatchObject({ httpStatus: 200, version: '1.0.0' });
    for (const c of report.components) expect(c.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('probes only the groups asked for', async () => {
    const report = await runHealthCheck({ components: ['redis', 'storage'] });
    expect(report.components.map((c) => c.kind).sort()).toEqual(['redis', 'storage']);
  });

  it('marks Redis down with the reason when it is stopped, and nothing else', async () => {
    await stopRedis(layout);
    try {
      const report = await runHealthCheck();
      expect(notUp(report)).toEqual(['redis/redis']);
      expect(find(report, 'redis', 'redis').reason).toMatch(/ECONNREFUSED|connect/);
      expect(report.overall).toBe('unhealthy');
    } finally {
      await startRedis(layout, sandbox.env[SecretEnv.redisPassword]);
    }
  });

  it('marks a stopped container down, with its app and its nginx frontend', async () => {
    execFileSync('docker', ['stop', '--time', '2', `${prefix}tego-mcp-host2-1`]);
    try {
      const report = await runHealthCheck();
      expect(notUp(report).sort()).toEqual([`app/${prefix}tego-mcp-host2-1`, `container/${prefix}tego-mcp-host2-1`, 'load-balancer/tego-mcp']);
      expect(find(report, 'container', `${prefix}tego-mcp-host2-1`).reason).toMatch(/^container is exited/);
      expect(find(report, 'app', `${prefix}tego-mcp-host2-1`).reason).toMatch(/ECONNREFUSED/);
      expect(find(report, 'load-balancer', 'tego-mcp').reason).toMatch(/^HTTP 502/);
    } finally {
      execFileSync('docker', ['start', `${prefix}tego-mcp-host2-1`]);
      await waitUntil(async () => (await runHealthCheck({ components: ['apps'] })).overall === 'healthy', 30_000, 500);
    }
  });

  it('marks a stopped replica down while the primary stays up', async () => {
    const { replica, primary } = postgresNodes(layout);
    const runAs = postgresRunAs();
    await pgCtl(replica, 'stop', { ...runAs });
    try {
      const report = await runHealthCheck({ components: ['postgres'] });
      expect(find(report, 'postgres', 'pg2')).toMatchObject({ status: 'down' });
      expect(find(report, 'postgres', 'pg2').reason).toMatch(/ECONNREFUSED/);
      expect(find(report, 'postgres', 'pg1').status).toBe('up');
      expect(primary.port).toBe(sandbox.portBase + 10);
    } finally {
      await pgCtl(replica, 'start', { ...runAs });
      await waitUntil(
        async () => find(await runHealthCheck({ components: ['postgres'] }), 'postgres', 'pg2').status === 'up',
        30_000,
        500,
      );
    }
  });

  it('rejects bad input at the door: non-retryable InvalidInput, field-level, before any activity', async () => {
    const workflowId = uniqueId('health-bad');
    const failure = await runHealthCheck({ components: ['apps', 'nginx'], extra: 1 }, workflowId).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause).toMatchObject({ type: 'InvalidInput', nonRetryable: true });
    expect((cause as ApplicationFailure).message).toContain('components[1]: expected one of');
    expect((cause as ApplicationFailure).message).toContain('Unrecognized key: "extra"');
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = history.events!.filter((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled).toHaveLength(0);
  });
});

describe('healthCheckWorkflow when a host has no worker', () => {
  it("reports that host's Docker and containers down, naming the queue to serve", async () => {
    await worker.stop();
    const partial = await startWorkerProcess(sandbox, { bundlePath, args: ['--host', 'host1'] });
    try {
      const report = await runHealthCheck({ components: ['containers'] });
      expect(find(report, 'docker', 'host1').status).toBe('up');
      expect(find(report, 'docker', 'host2')).toMatchObject({
        status: 'down',
        reason: 'no worker serves task queue ops@host2: start one on host host2',
      });
      expect(find(report, 'container', `${prefix}tego-mcp-host2-1`).status).toBe('down');
    } finally {
      await partial.stop();
      worker = await startWorkerProcess(sandbox, { bundlePath });
    }
  });
});
