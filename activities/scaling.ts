import { ApplicationFailure } from '@temporalio/activity';
import type { Placement } from '../inventory/inventory-file';
import type { Inventory } from '../inventory/schema';
import { appInstances, findHost, findService, upstreamKey } from '../inventory/topology';
import { ErrorType } from '../workflows/error-types';
import type { ActivityDeps } from './deps';

export interface NewInstance {
  containerName: string;
  host: string;
  hostPort: number;
  healthUrl: string;
  /** How nginx's rendering names it: "service@host:port". */
  upstreamKey: string;
}

export interface ScaleOutPlan {
  before: Placement[];
  after: Placement[];
  /** The image the service's instances run now; new ones start from it. */
  image: string;
}

/** Inventory-side planning of scale-out and scale-in, and the write of the new placement. */
export function createScalingActivities(deps: ActivityDeps) {
  const placementOf = (service: string): Placement[] => findService(deps.inventory, service).placement.map((p) => ({ host: p.host, ports: [...p.ports] }));

  return {
    /**
     * Where `count` new instances of `service` go on `host`: the next ports after the highest one any
     * service uses there (or `ports` when given).
     * @throws ApplicationFailure `InvalidInput` for a port already taken on that host
     */
    async planScaleOut({ service, host, count, ports }: { service: string; host: string; count: number; ports?: number[] }): Promise<Omit<ScaleOutPlan, 'image'>> {
      const inventory = deps.inventory;
      const used = portsInUseAt(inventory, host);
      let chosen = ports ?? [];
      const taken = chosen.filter((p) => used.has(p));
      if (taken.length > 0) throw ApplicationFailure.nonRetryable(`port(s) ${taken.join(', ')} already used on ${host}`, ErrorType.InvalidInput);
      if (!ports) {
        let next = Math.max(findService(inventory, service).port, ...used) + 1;
        chosen = [];
        while (chosen.length < count) {
          if (!used.has(next)) chosen.push(next);
          next++;
        }
      }
      const before = placementOf(service);
      const after = before.some((p) => p.host === host)
        ? before.map((p) => (p.host === host ? { host, ports: [...p.ports, ...chosen] } : p))
        : [...before, { host, ports: chosen }];
      return { before, after };
    },

    /**
     * A free port for the new container of a start-first replacement, and the service's placement
     * with the instance moved there.
     */
    async planPortMove({ service, host, fromPort }: { service: string; host: string; fromPort: number }): Promise<{ toPort: number; before: Placement[]; after: Placement[] }> {
      const inventory = deps.inventory;
      const used = portsInUseAt(inventory, host);
      let toPort = Math.max(...used) + 1;
      while (used.has(toPort)) toPort++;
      const before = placementOf(service);
      const after = before.map((p) => (p.host === host ? { host, ports: p.ports.map((port) => (port === fromPort ? toPort : port)) } : p));
      return { toPort, before, after };
    },

    /** The instances of `service` as the inventory places them now. */
    async serviceInstances({ service }: { service: string }): Promise<NewInstance[]> {
      const inventory = deps.inventory;
      return appInstances(inventory, findService(inventory, service)).map((i) => ({
        containerName: i.containerName,
        host: i.host,
        hostPort: i.hostPort,
        healthUrl: i.healthUrl,
        upstreamKey: upstreamKey(i),
      }));
    },

    /** Writes a service's placement into the inventory file the workers read. */
    async setServicePlacement({ service, placement }: { service: string; placement: Placement[] }): Promise<{ changed: boolean }> {
      if (!deps.inventoryFile) {
        throw ApplicationFailure.nonRetryable('this worker was not started from an inventory file, so it cannot record the new placement', ErrorType.UnknownTarget);
      }
      return deps.inventoryFile.setServicePlacement(service, placement);
    },
  };
}

/** Host ports the inventory gives out at `host`'s address — on any host sharing that address too. */
function portsInUseAt(inventory: Inventory, host: string): Set<number> {
  const address = findHost(inventory, host).address;
  const sameAddress = new Set(inventory.hosts.filter((h) => h.address === address).map((h) => h.name));
  return new Set(inventory.services.flatMap((s) => s.placement.filter((p) => sameAddress.has(p.host)).flatMap((p) => p.ports)));
}
