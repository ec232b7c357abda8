import type { Client } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { waitUntil } from '../harness/daemon';
import { sandboxClient, uniqueId } from '../harness/temporal-client';
import { startWorkerProcess, type WorkerProcess } from '../harness/worker-process';

const sandbox = inject('sandbox');
const bundlePath = inject('workflowBundlePath');
const metricsPort = sandbox.portBase + 60;
let client: Client;
let worker: WorkerProcess;

beforeAll(async () => {
  client = await sandboxClient(sandbox);
  worker = await startWorkerProcess(sandbox, { bundlePath, metricsPort });
});

afterAll(async () => {
  await worker?.stop();
  await client?.connection.close();
});

describe('worker process', () => {
  it("logs JSON in the guide's format, with the workflow id as trace_id", async () => {
    const workflowId = uniqueId('health-logs');
    await client.workflow.execute('healthCheckWorkflow', { taskQueue: 'ops', workflowId, args: [{}] });
    const isOurLine = (l: Record<string, unknown>) => l.trace_id === workflowId && l.message === 'health check finished';
    // Workflow logs reach the process's stdout shortly after the result, through the SDK's log sink.
    await waitUntil(() => worker.logs.some(isOurLine), 10_000, 50, 'the workflow log line');
    const line = worker.logs.find(isOurLine);
    expect(Object.keys(line!).sort()).toEqual(['level', 'message', 'metadata', 'service', 'timestamp', 'trace_id']);
    expect(line).toMatchObject({ level: 'INFO', service: 'tego-ops-worker', metadata: { overall: 'healthy' } });
    expect(new Date(line!.timestamp as string).toISOString()).toBe(line!.timestamp);
    expect(worker.logs.filter((l) => 'raw' in l)).toEqual([]);
  });

  it('serves the SDK metrics and our own on one /metrics endpoint', async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).toMatch(/^temporal_workflow_completed\{.*workflow_type="healthCheckWorkflow".*\} [1-9]/m);
    expect(text).toMatch(/^tego_activity_duration_seconds_count\{activity="probeRedis",task_queue="ops",outcome="completed"\} [1-9]/m);
    expect(text).toMatch(/^tego_activity_duration_seconds_count\{activity="inspectHostContainers",task_queue="ops@host2",outcome="completed"\} [1-9]/m);
    expect(text).toMatch(/^tego_worker_process_resident_memory_bytes \d+/m);
  });

  it('shuts down gracefully on SIGTERM', async () => {
    const code = await worker.stop();
    expect(code).toBe(0);
    expect(worker.logs.some((l) => l.message === 'worker stopped')).toBe(true);
  });

  it('refuses a host the inventory does not name, clearly and without a stack trace', async () => {
    await expect(startWorkerProcess(sandbox, { bundlePath, args: ['--host', 'host9'] })).rejects.toThrow(
      /tego-ops-worker: unknown host "host9" \(hosts: host1, host2\)\n$/,
    );
  });
});
