import { ApplicationFailure, defineQuery, isCancellation, proxyActivities, setHandler } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { upstreamKey, type TopologyView } from '../inventory/topology';
import { ActivityPresets } from './activity-options';
import { runChange, type Change } from './change-control';
import { msOf } from './durations';
import { ErrorType } from './error-types';
import { healthGate, nginxDrainGate } from './gates';
import { inventoryWrites, onHostQueue } from './host-queues';
import { rootMessage } from './failures';
import { RollingDeployInputSchema, type RollingDeployInput } from './inputs';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface InstanceDeployState {
  container: string;
  service: string;
  host: string;
  /** The image it ran before the deploy. */
  from: string;
  to: string;
  state: 'waiting' | 'draining' | 'replacing' | 'checking' | 'monitoring' | 'updated' | 'failed' | 'rolled back';
  detail?: string;
}

export interface DeployReport {
  updated: string[];
  /** Instances that failed and were put back on their old image (within maxFailureRatio). */
  rolledBack: string[];
  instances: InstanceDeployState[];
}

/** Per-instance progress and versions of a rolling deploy. */
export const deployStatusQuery = defineQuery<InstanceDeployState[]>('deployStatus');

type Instance = TopologyView['instances'][number];

/**
 * The guide's `docker-compose up -d --no-deps tego-os; sleep 30`, done the way a careful SRE would: one
 * batch at a time, each instance taken out of nginx and drained (nginx's old workers finish the requests
 * in flight), replaced by a container on the new image with the same name, env, ports and labels, gated
 * on its health check, put back into nginx and watched for `monitorPeriod`. A failure rolls back every
 * instance already replaced — drained, back on its old image, healthy, back in nginx — and leaves the
 * untouched ones alone; within `maxFailureRatio` only the failed instance is rolled back and the deploy
 * goes on. With `order: start-first` the new container starts beside the old one on a free port and
 * takes over before the old one is drained and retired. A managed change: approval, window,
 * pause/resume between steps, abort (rolls back), record.
 * @throws ApplicationFailure `UnknownTarget` for an unknown service, one without an nginx frontend, or an instance without its container
 * @throws ApplicationFailure `DeployRolledBack` when it failed and put instances back, naming them
 */
export async function rollingDeployWorkflow(input: RollingDeployInput): Promise<DeployReport> {
  const parsed = parseInput(RollingDeployInputSchema, input);
  const { service, image, services, batchSize, order, monitorPeriod, maxFailureRatio, healthTimeout, drainTimeout, ...options } = parsed;
  const targets = services ?? [{ service: service!, image: image! }];
  const topology = await probe.describeTopology();
  const lbHost = topology.loadBalancer;
  if (!lbHost) throw ApplicationFailure.nonRetryable('the inventory has no loadBalancer: a rolling deploy drains instances through nginx', ErrorType.UnknownTarget);
  for (const t of targets) {
    if (!topology.instances.some((i) => i.service === t.service)) {
      throw ApplicationFailure.nonRetryable(`unknown service ${t.service} (services: ${[...new Set(topology.instances.map((i) => i.service))].join(', ')})`, ErrorType.UnknownTarget);
    }
    if (!topology.frontends.some((f) => f.service === t.service)) {
      throw ApplicationFailure.nonRetryable(`service ${t.service} has no nginx frontend to drain it through`, ErrorType.UnknownTarget);
    }
  }
  const queueOf = new Map(topology.hosts.map((h) => [h.name, h.taskQueue]));
  const dockerOn = (host: string) => onHostQueue(queueOf.get(host)!);
  const lb = onHostQueue(lbHost.taskQueue);
  const drained = nginxDrainGate(lbHost.taskQueue, drainTimeout);
  // Polled every half second or so: an instance's health gate is most of a deploy's time, and a slow
  // backoff would add up to its final interval to each one.
  const gate = healthGate(healthTimeout, { initialInterval: '500 milliseconds', backoffCoefficient: 1.2, maximumInterval: '2 seconds' });
  const watch = proxyActivities<SharedActivities>({ startToCloseTimeout: `${msOf(monitorPeriod) + 30_000} ms`, heartbeatTimeout: '10 seconds', retry: { maximumAttempts: 3 } });

  // What each instance runs now, read before anything changes: the image a rollback returns to.
  const running = new Map<string, string>();
  for (const host of new Set(topology.instances.map((i) => i.host))) {
    for (const c of (await dockerOn(host).inspectHostContainers(host)).containers) running.set(c.name, c.image);
  }
  const plan = targets.flatMap((t) => topology.instances.filter((i) => i.service === t.service).map((instance) => ({ instance, image: t.image })));
  const missing = plan.filter(({ instance }) => !running.has(instance.containerName)).map(({ instance }) => `${instance.containerName} on ${instance.host}`);
  if (missing.length > 0) {
    throw ApplicationFailure.nonRetryable(`no container for ${missing.join(', ')}: start the service as the inventory places it before deploying; nothing changed`, ErrorType.UnknownTarget);
  }
  const states: InstanceDeployState[] = plan.map(({ instance, image: to }) => ({
    container: instance.containerName,
    service: instance.service,
    host: instance.host,
    from: running.get(instance.containerName)!,
    to,
    state: 'waiting',
  }));
  setHandler(deployStatusQuery, () => states);
  const stateOf = (i: Instance) => states.find((s) => s.container === i.containerName)!;
  const maxFailures = Math.floor(maxFailureRatio * plan.length);
  const rolledBack: string[] = [];

  // Where each instance is now: a start-first replacement moves it to another port.
  const live = new Map(plan.map(({ instance }) => [instance.containerName, instance]));
  const now = (i: Instance) => live.get(i.containerName)!;

  /** Out of nginx, drained, on `toImage`, healthy, back in nginx. */
  const putOnImage = async (at: Instance, toImage: string) => {
    const instance = now(at);
    await lb.applyUpstreams({ exclude: [upstreamKey(instance)] });
    await drained.requireNginxDrained();
    await dockerOn(instance.host).recreateContainer({ host: instance.host, container: instance.containerName, image: toImage });
    await gate.requireHealthy({ url: instance.healthUrl, timeoutMs: instance.healthTimeoutMs });
    await lb.applyUpstreams({ exclude: [] });
  };
  const rollBack = async (instance: Instance) => {
    await putOnImage(instance, stateOf(instance).from);
    Object.assign(stateOf(instance), { state: 'rolled back' });
  };

  /**
   * Start-first: the new container starts beside the old one on a free port, passes its health check,
   * takes over the instance's place in the inventory and in nginx; the old one is drained and retired.
   */
  const startFirst = async (change: Change, instance: Instance, to: string) => {
    const name = instance.containerName;
    const docker = dockerOn(instance.host);
    const move = await probe.planPortMove({ service: instance.service, host: instance.host, fromPort: instance.hostPort });
    const moved: Instance = { ...instance, hostPort: move.toPort, healthUrl: instance.healthUrl.replace(`:${instance.hostPort}/`, `:${move.toPort}/`) };
    let retired = false;
    await change.step(
      `start ${name} on ${to} beside the old one, on port ${move.toPort}`,
      () => {
        stateOf(instance).state = 'replacing';
        return docker.startNextContainer({ host: instance.host, container: name, image: to, hostPort: move.toPort });
      },
      async () => {
        await docker.removeNextContainer({ host: instance.host, container: name });
        stateOf(instance).state = 'rolled back';
      },
    );
    stateOf(instance).state = 'checking';
    await change.check(`wait until the new ${name} is healthy`, () => gate.requireHealthy({ url: moved.healthUrl, timeoutMs: moved.healthTimeoutMs }));
    await change.step(
      `send ${name}'s traffic to the new container`,
      async () => {
        await inventoryWrites.setServicePlacement({ service: instance.service, placement: move.after });
        await lb.applyUpstreams({ exclude: [] });
        live.set(name, moved);
      },
      // Once the old container is retired, its own undo has already put the instance right on the new port.
      async () => {
        if (retired) return;
        await inventoryWrites.setServicePlacement({ service: instance.service, placement: move.before });
        await lb.applyUpstreams({ exclude: [] });
        live.set(name, instance);
      },
    );
    await change.check(`wait until requests in flight to the old ${name} are done`, () => drained.requireNginxDrained());
    await change.step(
      `retire the old ${name}`,
      async () => {
        await docker.retireForNext({ host: instance.host, container: name, stopTimeoutSeconds: 30 });
        retired = true;
      },
      () => rollBack(instance),
    );
  };

  const deployBatch = async (change: Change, batch: typeof plan) => {
    const names = batch.map((b) => b.instance.containerName).join(', ');
    const setState = (state: InstanceDeployState['state']) => batch.forEach((b) => (stateOf(b.instance).state = state));
    if (order === 'start-first') {
      for (const { instance, image: to } of batch) await startFirst(change, instance, to);
    } else {
      await stopFirst(change, batch, names, setState);
    }
    setState('monitoring');
    await Promise.all(
      batch.map(({ instance }) =>
        change.check(`watch ${instance.containerName} for ${monitorPeriod}`, () =>
          watch.watchHealthy({ url: now(instance).healthUrl, timeoutMs: instance.healthTimeoutMs, seconds: msOf(monitorPeriod) / 1000 }),
        ),
      ),
    );
    setState('updated');
  };

  /** Stop-first: out of nginx, drained, recreated on the new image in place, healthy, back in. */
  const stopFirst = async (change: Change, batch: typeof plan, names: string, setState: (state: InstanceDeployState['state']) => void) => {
    await change.step(
      `take ${names} out of nginx`,
      () => {
        setState('draining');
        return lb.applyUpstreams({ exclude: batch.map((b) => upstreamKey(b.instance)) });
      },
      () => lb.applyUpstreams({ exclude: [] }),
    );
    await change.check(`wait until requests in flight to ${names} are done`, () => drained.requireNginxDrained());
    for (const { instance, image: to } of batch) {
      await change.step(
        `run ${instance.containerName} on ${to}`,
        () => {
          stateOf(instance).state = 'replacing';
          return dockerOn(instance.host).recreateContainer({ host: instance.host, container: instance.containerName, image: to });
        },
        () => rollBack(instance),
        (r) => `${r.previousImage} → ${r.image}`,
      );
    }
    for (const { instance } of batch) {
      stateOf(instance).state = 'checking';
      await change.check(`wait until ${instance.containerName} is healthy`, () => gate.requireHealthy({ url: instance.healthUrl, timeoutMs: instance.healthTimeoutMs }));
    }
    await change.step(`put ${names} back into nginx`, () => lb.applyUpstreams({ exclude: [] }));
  };

  try {
    return await runChange(
    { kind: 'rolling-deploy', target: `services:${targets.map((t) => t.service).join(',')}`, input, options },
    async (change) => {
      for (let i = 0; i < plan.length; i += batchSize) {
        const batch = plan.slice(i, i + batchSize);
        try {
          await deployBatch(change, batch);
        } catch (err) {
          // Aborted or cancelled: no instance failed; the compensation rolls back what was replaced.
          if (isCancellation(err) || (err instanceof ApplicationFailure && err.type === ErrorType.ChangeAborted)) throw err;
          const failed = batch.filter((b) => stateOf(b.instance).state !== 'updated');
          failed.forEach((b) => Object.assign(stateOf(b.instance), { state: 'failed', detail: (err as Error).message }));
          if (rolledBack.length + failed.length > maxFailures) throw err;
          // Within the tolerated share: this batch goes back to its old image, the deploy goes on.
          for (const { instance } of failed) {
            await change.step(`roll back ${instance.containerName} to ${stateOf(instance).from}`, () => rollBack(instance));
            rolledBack.push(instance.containerName);
          }
        }
      }
      return { updated: states.filter((s) => s.state === 'updated').map((s) => s.container), rolledBack, instances: states };
    },
    (r) => `${r.updated.length} of ${plan.length} instances updated${r.rolledBack.length ? `; rolled back: ${r.rolledBack.join(', ')}` : ''}`,
    );
  } catch (err) {
    // The failure says what the rollback did; the cause underneath says why the deploy failed.
    const rolled = states.filter((s) => s.state === 'rolled back').map((s) => s.container);
    if (rolled.length === 0 || isCancellation(err)) throw err;
    const untouched = states.filter((s) => s.state === 'waiting').map((s) => s.container);
    throw ApplicationFailure.create({
      type: ErrorType.DeployRolledBack,
      nonRetryable: true,
      message: `deploy failed (${rootMessage(err)}); back on their previous image: ${rolled.join(', ')}${untouched.length ? `; never touched: ${untouched.join(', ')}` : ''}`,
      details: [{ instances: states }],
      cause: err as Error,
    });
  }
}
