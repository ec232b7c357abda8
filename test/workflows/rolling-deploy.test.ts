import { execFileSync } from 'node:child_process';
import Docker from 'dockerode';
import { readFile } from 'node:fs/promises';
import { WorkflowFailedError } from '@temporalio/client';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load';
import { topologyView } from '../../inventory/topology';
import type { DeployReport, InstanceDeployState } from '../../workflows/rolling-deploy';
import type { Progress } from '../../workflows/progress';
import { waitUntil } from '../harness/daemon';
import { startHttpLoad } from '../harness/http-load';
import { sandboxLayout } from '../harness/layout';
import { SandboxLabel } from '../harness/services/apps';
import { registryAddress } from '../harness/services/registry';
import { dockerSocket } from '../harness/services/docker-engine';
import { DemoImages } from '../harness/services/images';
import { failureType, innermostTypedFailure } from '../harness/failures';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';

const suite = useSandbox();
const { sandbox } = suite;
const docker = new Docker({ socketPath: dockerSocket });
const service = 'tego-os';

async function serviceView() {
  const inventory = await loadInventory(sandbox.inventoryPath);
  const topology = topologyView(inventory);
  const frontend = inventory.loadBalancer!.frontends.find((f) => f.service === service)!;
  return {
    instances: topology.instances.filter((i) => i.service === service),
    url: `http://${inventory.loadBalancer!.address}:${frontend.listen}/`,
    configFile: inventory.loadBalancer!.configFile,
  };
}

/** Image and health-reported version of each instance of the service. */
async function versions(): Promise<{ container: string; image: string; version: string }[]> {
  const { instances } = await serviceView();
  return Promise.all(
    instances.map(async (i) => {
      const image = (await docker.getContainer(i.containerName).inspect()).Config.Image;
      const body = (await (await fetch(i.healthUrl)).json()) as { version: string };
      return { container: i.containerName, image, version: body.version };
    }),
  );
}

function start(input: Record<string, unknown>) {
  return suite.client.workflow.start<(i: unknown) => Promise<DeployReport>>('rollingDeployWorkflow', {
    taskQueue: 'ops',
    workflowId: uniqueId('deploy'),
    args: [{ service, monitorPeriod: '2s', drainTimeout: '15s', ...input }],
  });
}


async function noLeftovers(): Promise<void> {
  const names = (await docker.listContainers({ all: true, filters: { label: [`${SandboxLabel}=${sandbox.id}`] } })).map((c) => c.Names[0].slice(1));
  expect(names.filter((n) => n.endsWith('-previous') || n.endsWith('-next'))).toEqual([]);
  expect(new Set(names).size).toBe(names.length);
  const { instances, configFile } = await serviceView();
  const nginx = await readFile(configFile, 'utf8');
  for (const i of instances) expect(nginx).toContain(`# ${i.containerName}`);
}

afterAll(async () => {
  // Back to the sandbox's version for the files that follow.
  if ((await versions()).some((v) => v.image !== DemoImages.v1)) await (await start({ image: DemoImages.v1, monitorPeriod: '1s' })).result();
});

describe('rollingDeployWorkflow', () => {
  it('deploys a good version under load through nginx with zero failed requests', async () => {
    const { url } = await serviceView();
    const load = startHttpLoad(url);
    const handle = await start({ image: DemoImages.v2 });
    const report = await handle.result();
    const traffic = await load.stop();
    console.log(`deploy v2: ${traffic.requests} requests through nginx, ${traffic.failed} failed`);
    expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    expect(traffic.requests).toBeGreaterThan(1000);
    expect(report.updated).toHaveLength(3);
    expect(report.rolledBack).toEqual([]);
    expect((await versions()).map((v) => [v.image, v.version])).toEqual(Array(3).fill([DemoImages.v2, '2.0.0']));
    const status = await handle.query<InstanceDeployState[]>('deployStatus');
    expect(status.map((s) => [s.from, s.to, s.state])).toEqual(Array(3).fill([DemoImages.v1, DemoImages.v2, 'updated']));
    await noLeftovers();
  });

  it('rolls back a version that fails its health check: every instance on the old one and healthy, no failed request', async () => {
    const { url } = await serviceView();
    const load = startHttpLoad(url);
    const handle = await start({ image: DemoImages.bad, healthTimeout: '8s' });
    const failure = await handle.result().catch((err: unknown) => err);
    const traffic = await load.stop();
    console.log(`deploy bad: ${traffic.requests} requests through nginx, ${traffic.failed} failed`);
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    expect(failureType(failure)).toBe('NotHealthyYet');
    expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    const status = await handle.query<InstanceDeployState[]>('deployStatus');
    const outer = (failure as WorkflowFailedError).cause as { type?: string; message: string };
    expect(outer.type).toBe('DeployRolledBack');
    expect(outer.message).toContain(`back on their previous image: ${status[0].container}; never touched: ${status[1].container}, ${status[2].container}`);
    expect(status.map((s) => s.state)).toEqual(['rolled back', 'waiting', 'waiting']);
    const progress = await handle.query<Progress>('progress');
    expect(progress.steps.find((s) => s.name.startsWith(`run ${status[0].container} on`))?.status).toBe('undone');
    expect((await versions()).map((v) => [v.image, v.version])).toEqual(Array(3).fill([DemoImages.v2, '2.0.0']));
    await noLeftovers();
  });

  it('within maxFailureRatio rolls back only the failed instance and goes on; past it, rolls back the deploy', async () => {
    // One failure in three is tolerated (floor(0.34 × 3) = 1); the bad image fails every instance, so the second ends it.
    const handle = await start({ image: DemoImages.bad, healthTimeout: '5s', maxFailureRatio: 0.34 });
    const failure = await handle.result().catch((err: unknown) => err);
    expect(failureType(failure)).toBe('NotHealthyYet');
    const steps = (await handle.query<Progress>('progress')).steps.map((s) => s.name);
    const status = await handle.query<InstanceDeployState[]>('deployStatus');
    expect(steps).toContain(`roll back ${status[0].container} to ${DemoImages.v2}`);
    expect(steps.some((name) => name.startsWith(`run ${status[1].container} on`))).toBe(true);
    expect(status.map((s) => s.state)).toEqual(['rolled back', 'rolled back', 'waiting']);
    expect((await versions()).map((v) => v.image)).toEqual(Array(3).fill(DemoImages.v2));
    await noLeftovers();
  });

  it('pauses and resumes between steps, and an abort rolls back what it replaced', async () => {
    const handle = await start({ image: DemoImages.v3, monitorPeriod: '3s' });
    await waitUntil(async () => (await handle.query<InstanceDeployState[]>('deployStatus'))[0].state === 'monitoring', 60_000, 100, 'the first instance to be watched');
    await handle.signal('pause', { by: 'sre@test' });
    await waitUntil(async () => (await handle.query<Progress>('progress')).phase === 'paused', 30_000, 100, 'the deploy to pause');
    const stepsWhilePaused = (await handle.query<Progress>('progress')).steps.length;
    await new Promise((r) => setTimeout(r, 2000));
    expect((await handle.query<Progress>('progress')).steps.length).toBe(stepsWhilePaused);
    await handle.signal('resume', { by: 'sre@test' });
    await waitUntil(async () => (await handle.query<InstanceDeployState[]>('deployStatus'))[1].state === 'monitoring', 60_000, 100, 'the second instance to be watched');
    await handle.signal('abort', { by: 'sre@test', comment: 'wrong build' });
    const failure = await handle.result().catch((err: unknown) => err);
    expect(failureType(failure)).toBe('ChangeAborted');
    const status = await handle.query<InstanceDeployState[]>('deployStatus');
    expect(status.map((s) => s.state)).toEqual(['rolled back', 'rolled back', 'waiting']);
    expect((await versions()).map((v) => v.image)).toEqual(Array(3).fill(DemoImages.v2));
    await noLeftovers();
  });

  it('pulls an image the host lacks from the configured registry, and only then deploys it', async () => {
    const registry = registryAddress(sandboxLayout(sandbox.stateDir, sandbox.portBase));
    const image = `${registry}/tego-demo:pulled`;
    execFileSync('docker', ['tag', DemoImages.v1, image]);
    execFileSync('docker', ['push', '--quiet', image]);
    execFileSync('docker', ['rmi', image]);
    expect(await docker.getImage(image).inspect().then(() => true, () => false)).toBe(false);

    const report = await (await start({ image, monitorPeriod: '1s' })).result();
    expect(report.updated).toHaveLength(3);
    expect(await docker.getImage(image).inspect().then(() => true, () => false)).toBe(true);
    expect((await versions()).map((v) => [v.image, v.version])).toEqual(Array(3).fill([image, '1.0.0']));
    await noLeftovers();
  });

  it('start-first: each new container starts beside the old one on a free port and takes over; no request fails', async () => {
    const { url } = await serviceView();
    const portsBefore = (await serviceView()).instances.map((i) => i.hostPort);
    const load = startHttpLoad(url);
    const report = await (await start({ image: DemoImages.v2, order: 'start-first', monitorPeriod: '1s' })).result();
    const traffic = await load.stop();
    console.log(`start-first deploy v2: ${traffic.requests} requests through nginx, ${traffic.failed} failed`);
    expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    expect(report.updated).toHaveLength(3);
    expect((await versions()).map((v) => [v.image, v.version])).toEqual(Array(3).fill([DemoImages.v2, '2.0.0']));
    const portsAfter = (await serviceView()).instances.map((i) => i.hostPort);
    for (const [i, port] of portsAfter.entries()) expect(port).not.toBe(portsBefore[i]);
    await noLeftovers();
  });

  it('start-first with a version that never gets healthy: the old containers never stopped serving', async () => {
    const { url } = await serviceView();
    const before = await versions();
    const load = startHttpLoad(url);
    const failure = await (await start({ image: DemoImages.bad, order: 'start-first', healthTimeout: '5s' })).result().catch((err: unknown) => err);
    const traffic = await load.stop();
    expect(failureType(failure)).toBe('NotHealthyYet');
    expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    expect(await versions()).toEqual(before);
    await noLeftovers();
  });

  it('a version whose health check never answers before the deadline fails as NotHealthyYet too, naming the deadline', async () => {
    // Each check waits for the service's 2 s health timeout, so with a 1 s deadline none ever finishes:
    // the deadline, not a check's answer, ends the gate, as it does on a worker too busy to run one.
    const { url } = await serviceView();
    const before = await versions();
    const load = startHttpLoad(url);
    const failure = await (await start({ image: DemoImages.hanging, order: 'start-first', healthTimeout: '1s' })).result().catch((err: unknown) => err);
    const traffic = await load.stop();
    expect(failureType(failure)).toBe('NotHealthyYet');
    expect(innermostTypedFailure(failure).message).toMatch(/did not become healthy within 1s: no check finished in time/);
    expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    expect(await versions()).toEqual(before);
    await noLeftovers();
  });

  it('a worker killed in the middle of a batch: after restart the deploy finishes, no container lost or doubled', async () => {
    const { url } = await serviceView();
    const load = startHttpLoad(url);
    const handle = await start({ image: DemoImages.v3 });
    await suite.killWorkerAt(handle, (s) => s.name.startsWith('run ') && s.status === 'running', 'a container replacement to begin');
    const report = await handle.result();
    const traffic = await load.stop();
    console.log(`deploy v3 with a worker killed: ${traffic.requests} requests, ${traffic.failed} failed`);
    expect(report.updated).toHaveLength(3);
    expect((await versions()).map((v) => v.image)).toEqual(Array(3).fill(DemoImages.v3));
    await noLeftovers();
  }, 300_000);
});
