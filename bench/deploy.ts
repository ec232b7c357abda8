/**
 * A 3-instance rolling deploy under load through nginx (issue: rolling deploys), side by side in one run:
 *   (a) the guide's method: per instance `docker stop`, `docker rm`, `docker run` on the new image, then a
 *       fixed sleep (the guide's `sleep 30`; --sleep), no drain;
 *   (b) tego-ops rollingDeployWorkflow (drain through nginx, recreate, health gate, back in, watch).
 * Both deploy an image that takes 5 s to start (tego-demo:2.0.0-slow), as real services do; (b) goes back
 * to 1.0.0 first so each run replaces three instances. 8 clients request through nginx without pause.
 * Prints failed requests out of the total for each, and (b)'s duration against the sum of its health-gate
 * waits (the orchestration overhead).
 * Run: npx tsx bench/deploy.ts [--sleep 10] [--keep]
 */
import Docker from 'dockerode';
import { Command } from 'commander';
import { instanceContainerSpec } from '../activities/docker-containers';
import { loadInventory } from '../inventory/load';
import { appInstances, findService } from '../inventory/topology';
import type { SandboxState } from '../test/harness/sandbox';
import { SandboxLabel } from '../test/harness/services/apps';
import { dockerSocket } from '../test/harness/services/docker-engine';
import { DemoImages } from '../test/harness/services/images';
import { uniqueId } from '../test/harness/temporal-client';
import { startHttpLoad, type HttpLoadReport } from '../test/harness/http-load';
import type { Progress } from '../workflows/progress';
import type { DeployReport } from '../workflows/rolling-deploy';
import { runBench } from './bench-sandbox';

const options = new Command()
  .option('--sleep <seconds>', "the guide's fixed wait after each docker run", '10')
  .option('--keep', 'leave the sandbox running afterwards', false)
  .parse()
  .opts<{ sleep: string; keep: boolean }>();

// Below 32768: ports above are the kernel's ephemeral range, where an outgoing connection may take one first.
const bench = { stateDir: '/tmp/tego-bench-deploy', portBase: 23000, containerNamePrefix: 'benchd-' };
const service = 'tego-os';
const docker = new Docker({ socketPath: dockerSocket });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function underLoad(url: string, work: () => Promise<void>): Promise<{ seconds: number; traffic: HttpLoadReport }> {
  const load = startHttpLoad(url);
  await sleep(1000);
  const started = process.hrtime.bigint();
  await work();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await sleep(1000);
  return { seconds, traffic: await load.stop() };
}

/** The guide: stop, remove, run on the new image, sleep — one instance after the other, nginx untouched. */
async function guideDeploy(sandbox: SandboxState, image: string, sleepSeconds: number): Promise<void> {
  const inventory = await loadInventory(sandbox.inventoryPath);
  const svc = findService(inventory, service);
  for (const instance of appInstances(inventory, svc)) {
    const container = docker.getContainer(instance.containerName);
    await container.stop({ t: 10 });
    await container.remove();
    await (await docker.createContainer(instanceContainerSpec(inventory, svc, instance, image, {}, { labels: { [SandboxLabel]: sandbox.id } }))).start();
    await sleep(sleepSeconds * 1000);
  }
}

runBench(bench, options.keep, async ({ sandbox, client }) => {
  const deploy = (image: string) =>
    client.workflow.start<(i: unknown) => Promise<DeployReport>>('rollingDeployWorkflow', {
      taskQueue: 'ops',
      workflowId: uniqueId('bench-deploy'),
      args: [{ service, image, monitorPeriod: '2s', healthTimeout: '60s' }],
    });
  const inventory = await loadInventory(sandbox.inventoryPath);
  const lb = inventory.loadBalancer!;
  const url = `http://${lb.address}:${lb.frontends.find((f) => f.service === service)!.listen}/`;

  console.log(`[bench] (a) the guide: docker stop/rm/run per instance, sleep ${options.sleep} s, no drain ...`);
  const guide = await underLoad(url, () => guideDeploy(sandbox, DemoImages.slow, Number(options.sleep)));
  await sleep(6000); // the last instance finishes starting before (b) begins
  await (await deploy(DemoImages.v1)).result();

  console.log('[bench] (b) tego-ops rollingDeployWorkflow ...');
  let handle: Awaited<ReturnType<typeof deploy>> | undefined;
  const ours = await underLoad(url, async () => {
    handle = await deploy(DemoImages.slow);
    await handle.result();
  });
  const steps = (await handle!.query<Progress>('progress')).steps;
  const gateSeconds = steps
    .filter((s) => s.name.startsWith('wait until') && s.name.endsWith('is healthy'))
    .reduce((sum, s) => sum + (Date.parse(s.finishedAt!) - Date.parse(s.startedAt)) / 1000, 0);
  const monitorSeconds = steps.filter((s) => s.name.startsWith('watch ')).reduce((sum, s) => sum + (Date.parse(s.finishedAt!) - Date.parse(s.startedAt)) / 1000, 0);

  const line = (name: string, o: { seconds: number; traffic: HttpLoadReport }) =>
    `${name.padEnd(52)} ${o.seconds.toFixed(1).padStart(6)} s   ${String(o.traffic.requests).padStart(7)} requests   ${String(o.traffic.failed).padStart(5)} failed`;
  console.log('\n3-instance deploy of an image that takes 5 s to start, under load through nginx, one run (2 cores):\n');
  console.log(line(`(a) guide: docker stop/rm/run + sleep ${options.sleep} s, no drain`, guide));
  console.log(line('(b) tego-ops rollingDeployWorkflow', ours));
  if (guide.traffic.failures.length) console.log(`    (a) failures, first ones: ${guide.traffic.failures.join(' | ')}`);
  const startupSeconds = 3 * 5;
  console.log(
    `\n(b) took ${ours.seconds.toFixed(1)} s; its health-gate waits sum to ${gateSeconds.toFixed(1)} s and its monitor periods (2 s each) to ${monitorSeconds.toFixed(1)} s:` +
      `\n    duration / (gate waits + monitor periods) = ${(ours.seconds / (gateSeconds + monitorSeconds)).toFixed(2)}× (goal ≤ 1.2×);` +
      ` against the bare minimum, 3 × 5 s of start-up + the monitor periods: ${(ours.seconds / (startupSeconds + monitorSeconds)).toFixed(2)}×`,
  );
});
