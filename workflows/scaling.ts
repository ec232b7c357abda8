import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { NewInstance } from '../activities/scaling';
import type { TopologyView } from '../inventory/topology';
import { ActivityPresets } from './activity-options';
import { runChange } from './change-control';
import { msOf } from './durations';
import { ErrorType } from './error-types';
import { healthGate, nginxDrainGate, trafficGate } from './gates';
import { inventoryWrites, onHostQueue } from './host-queues';
import { ScaleInInputSchema, ScaleOutInputSchema, type ScaleInInput, type ScaleOutInput } from './inputs';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface ScaleReport {
  service: string;
  /** Containers started (scale-out) or removed (scale-in). */
  instances: string[];
  /** Instances of the service afterwards. */
  total: number;
}

/** The proxies both directions use, and the checks of the service they act on. */
function scalingContext(topology: TopologyView, service: string) {
  if (!topology.instances.some((i) => i.service === service)) {
    throw ApplicationFailure.nonRetryable(`unknown service ${service} (services: ${[...new Set(topology.instances.map((i) => i.service))].join(', ')})`, ErrorType.UnknownTarget);
  }
  const frontend = topology.frontends.find((f) => f.service === service);
  if (!topology.loadBalancer || !frontend) throw ApplicationFailure.nonRetryable(`service ${service} has no nginx frontend to balance its instances`, ErrorType.UnknownTarget);
  const queueOf = new Map(topology.hosts.map((h) => [h.name, h.taskQueue]));
  return {
    frontend,
    queueOf,
    dockerOn: (host: string) => onHostQueue(queueOf.get(host)!),
    lb: onHostQueue(topology.loadBalancer.taskQueue),
    lbTaskQueue: topology.loadBalancer.taskQueue,
  };
}

/**
 * The guide's scale-out (`docker-compose up -d` on a new host, edit the upstream, `nginx -s reload`) as a
 * managed change: the new instances go into the inventory, start from the service's current image and
 * env, pass their health checks, then nginx gets the upstream rendered with them (tested before the
 * reload) and requests through it must reach every one. Any failure takes them out of nginx, removes
 * the containers and puts the inventory back.
 * @throws ApplicationFailure `UnknownTarget` for an unknown service or host; `InvalidInput` for a port already taken
 */
export async function scaleOutWorkflow(input: ScaleOutInput): Promise<ScaleReport> {
  const { service, host, count, ports, ...options } = parseInput(ScaleOutInputSchema, input);
  const topology = await probe.describeTopology();
  const context = scalingContext(topology, service);
  if (!context.queueOf.has(host)) throw ApplicationFailure.nonRetryable(`unknown host ${host} (hosts: ${[...context.queueOf.keys()].join(', ')})`, ErrorType.UnknownTarget);
  const plan = await probe.planScaleOut({ service, host, count, ports });
  const existing = topology.instances.find((i) => i.service === service)!;
  const image = (await context.dockerOn(existing.host).inspectHostContainers(existing.host)).containers.find((c) => c.name === existing.containerName)?.image;
  if (!image) throw ApplicationFailure.nonRetryable(`no running instance of ${service} to take the image from`, ErrorType.UnknownTarget);
  const docker = context.dockerOn(host);
  const gate = healthGate('2 minutes');
  const traffic = trafficGate('2 minutes');

  return runChange(
    { kind: 'scale-out', target: `service:${service}@${host}`, input, options },
    async (change) => {
      await change.step(
        `place ${count} more ${service} on ${host} in the inventory`,
        () => inventoryWrites.setServicePlacement({ service, placement: plan.after }),
        () => inventoryWrites.setServicePlacement({ service, placement: plan.before }),
      );
      const before = new Set(topology.instances.filter((i) => i.service === service).map((i) => i.containerName));
      const added: NewInstance[] = (await probe.serviceInstances({ service })).filter((i) => !before.has(i.containerName));
      for (const instance of added) {
        await change.step(
          `start ${instance.containerName} on ${image}`,
          () => docker.recreateContainer({ host, container: instance.containerName, image, create: true }),
          () => docker.removeContainer({ host, container: instance.containerName, stopTimeoutSeconds: 30 }),
        );
      }
      for (const instance of added) {
        await change.check(`wait until ${instance.containerName} is healthy`, () => gate.requireHealthy({ url: instance.healthUrl, timeoutMs: 2000 }));
      }
      await change.step(
        `add ${added.map((i) => i.containerName).join(', ')} to nginx`,
        () => context.lb.applyUpstreams({ exclude: [] }),
        () => context.lb.applyUpstreams({ exclude: added.map((i) => i.upstreamKey) }),
      );
      await change.check('requests through nginx reach every new instance', () =>
        traffic.requireTrafficReaches({ url: context.frontend.healthUrl, instances: added.map((i) => i.containerName) }),
      );
      return { service, instances: added.map((i) => i.containerName), total: before.size + added.length };
    },
    (r) => `started ${r.instances.join(', ')}; ${r.service} has ${r.total} instances`,
  );
}

/**
 * Scale-in, drained first: the instances leave nginx, the requests in flight finish, then they are
 * stopped, leave the inventory and are removed. Refuses to leave fewer than `minInstances`.
 * @throws ApplicationFailure `PreconditionFailed` when it would go below `minInstances`
 */
export async function scaleInWorkflow(input: ScaleInInput): Promise<ScaleReport> {
  const { service, host, count, minInstances, drainTimeout, ...options } = parseInput(ScaleInInputSchema, input);
  const topology = await probe.describeTopology();
  const context = scalingContext(topology, service);
  const all = await probe.serviceInstances({ service });
  if (all.length - count < minInstances) {
    throw ApplicationFailure.nonRetryable(`removing ${count} of ${service}'s ${all.length} instances would leave ${all.length - count}, below minInstances ${minInstances}; nothing changed`, ErrorType.PreconditionFailed);
  }
  const candidates = all.filter((i) => !host || i.host === host);
  if (candidates.length < count) throw ApplicationFailure.nonRetryable(`${service} has only ${candidates.length} instance(s) on ${host}`, ErrorType.PreconditionFailed);
  const removed = candidates.slice(-count);
  const placement = placementWithout(all, removed);
  const drained = nginxDrainGate(context.lbTaskQueue, drainTimeout);
  const names = removed.map((i) => i.containerName).join(', ');

  return runChange(
    { kind: 'scale-in', target: `service:${service}${host ? `@${host}` : ''}`, input, options },
    async (change) => {
      await change.step(`take ${names} out of nginx`, () => context.lb.applyUpstreams({ exclude: removed.map((i) => i.upstreamKey) }), () => context.lb.applyUpstreams({ exclude: [] }));
      await change.check(`wait until requests in flight to ${names} are done`, () => drained.requireNginxDrained());
      for (const instance of removed) {
        const docker = context.dockerOn(instance.host);
        await change.step(
          `stop ${instance.containerName}`,
          () => docker.stopContainer({ host: instance.host, container: instance.containerName, stopTimeoutSeconds: Math.ceil(msOf(drainTimeout) / 1000) }),
          () => docker.startContainer({ host: instance.host, container: instance.containerName }),
        );
      }
      await change.step(
        `remove ${names} from the inventory`,
        () => inventoryWrites.setServicePlacement({ service, placement: placement.after }),
        () => inventoryWrites.setServicePlacement({ service, placement: placement.before }),
      );
      // No undo for the last steps: the instances are out of the inventory and of nginx.
      await change.step('render nginx from the inventory', () => context.lb.applyUpstreams({ exclude: [] }));
      for (const instance of removed) {
        await change.step(`remove ${instance.containerName}`, () => context.dockerOn(instance.host).removeContainer({ host: instance.host, container: instance.containerName, stopTimeoutSeconds: 30 }));
      }
      return { service, instances: removed.map((i) => i.containerName), total: all.length - count };
    },
    (r) => `removed ${r.instances.join(', ')}; ${r.service} has ${r.total} instances`,
  );
}

/** The service's placement before and after taking `removed` out (a host left with no port is dropped). */
function placementWithout(all: NewInstance[], removed: NewInstance[]) {
  const group = (instances: NewInstance[]) => {
    const hosts = [...new Set(instances.map((i) => i.host))];
    return hosts.map((h) => ({ host: h, ports: instances.filter((i) => i.host === h).map((i) => i.hostPort) }));
  };
  const gone = new Set(removed.map((i) => i.containerName));
  return { before: group(all), after: group(all.filter((i) => !gone.has(i.containerName))) };
}
