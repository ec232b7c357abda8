import { expectedBackupSources, type BackupKind } from './backup-catalog';
import type { Host, Inventory, PostgresNode, Service } from './schema';

/** Labels every container tego-ops manages carries; they tell logical hosts apart on a shared engine. */
export const Labels = {
  service: 'tego.service',
  host: 'tego.host',
  instance: 'tego.instance',
} as const;

/** One running copy of an app service, as the inventory places it. */
export interface AppInstance {
  service: string;
  host: string;
  /** 1-based index of the instance within its service on its host. */
  index: number;
  hostPort: number;
  containerName: string;
  /** URL of the instance's health endpoint, bypassing the load balancer. */
  healthUrl: string;
}

/** How nginx's rendering and the workflows that drain instances name one: "service@host:port". */
export function upstreamKey(instance: Pick<AppInstance, 'service' | 'host' | 'hostPort'>): string {
  return `${instance.service}@${instance.host}:${instance.hostPort}`;
}

/** The task queue served by the worker that runs on `host`. */
export function hostTaskQueue(host: Pick<Host, 'name' | 'taskQueue'>): string {
  return host.taskQueue ?? `ops@${host.name}`;
}

export function findHost(inventory: Inventory, hostName: string): Host {
  const host = inventory.hosts.find((h) => h.name === hostName);
  if (!host) throw new Error(`unknown host "${hostName}" (hosts: ${inventory.hosts.map((h) => h.name).join(', ')})`);
  return host;
}

export function findService(inventory: Inventory, serviceName: string): Service {
  const service = inventory.services.find((s) => s.name === serviceName);
  if (!service) {
    throw new Error(
      `unknown service "${serviceName}" (services: ${inventory.services.map((s) => s.name).join(', ')})`,
    );
  }
  return service;
}

/** The node the inventory names primary (validation guarantees exactly one). */
export function primaryNode(inventory: Inventory): PostgresNode {
  if (!inventory.postgres) throw new Error('the inventory has no postgres section');
  return inventory.postgres.nodes.find((n) => n.role === 'primary')!;
}

export function containerName(inventory: Inventory, service: string, host: string, index: number): string {
  return `${inventory.containerNamePrefix}${service}-${host}-${index}`;
}

export function appInstances(inventory: Inventory, service?: Service): AppInstance[] {
  const services = service ? [service] : inventory.services;
  return services.flatMap((svc) =>
    svc.placement.flatMap((placement) => {
      const host = findHost(inventory, placement.host);
      return placement.ports.map((hostPort, i) => ({
        service: svc.name,
        host: host.name,
        index: i + 1,
        hostPort,
        containerName: containerName(inventory, svc.name, host.name, i + 1),
        healthUrl: `http://${host.address}:${hostPort}${svc.health.path}`,
      }));
    }),
  );
}

/**
 * What a workflow needs to know of the inventory to plan its steps: names, queues and URLs, never
 * credentials. Activities look the details up again by name, so history stays small and secret-free.
 */
export interface TopologyView {
  sharedTaskQueue: string;
  hosts: { name: string; taskQueue: string }[];
  instances: (AppInstance & { healthTimeoutMs: number; usesDatabase: boolean })[];
  frontends: { service: string; healthUrl: string; healthTimeoutMs: number }[];
  /** The nginx host and its queue, where upstreams are rendered and reloaded. */
  loadBalancer: { host: string; taskQueue: string } | null;
  postgres: {
    /** Each node with the queue of its host, where its files and server process are acted on. */
    nodes: { name: string; role: 'primary' | 'replica'; host: string; taskQueue: string; fenced: boolean; local: boolean }[];
    maxLagBytes: number;
    databases: string[];
    /** Queue of the primary's host, where the WAL archiver runs. */
    primaryTaskQueue: string;
    walArchiveEnabled: boolean;
  } | null;
  /** Redis and the queue of the host it runs on (its RDB file is there). */
  redis: { host: string; taskQueue: string } | null;
  storage: { bucket: string } | null;
  /** Hosts with config files to back up, and their queues. */
  configBackupHosts: { name: string; taskQueue: string }[];
  thresholds: Inventory['alerts']['thresholds'];
  /** What the patrol and incidents need: rules' priorities, remediation policy, routes and the escalation chain. */
  alerting: Pick<Inventory['alerts'], 'priorities' | 'remediation' | 'routes' | 'contacts' | 'patrolEvery'> & {
    /** Whether the load balancer writes the access log the patrol reads error rates from. */
    accessLog: boolean;
  };
  /** Where restore drills run: the host and its queue. */
  restore: { drillHost: string; drillTaskQueue: string; maxDrillAgeDays: number } | null;
  backup: Pick<Inventory['backup'], 'retention' | 'maxAgeHours'> & {
    offsite: boolean;
    /** What each kind of backup should exist of, as manifests name it. */
    sources: Record<BackupKind, string[]>;
  };
}

export function topologyView(inventory: Inventory): TopologyView {
  const lb = inventory.loadBalancer;
  return {
    sharedTaskQueue: inventory.temporal.taskQueue,
    hosts: inventory.hosts.map((h) => ({ name: h.name, taskQueue: hostTaskQueue(h) })),
    instances: inventory.services.flatMap((service) =>
      appInstances(inventory, service).map((i) => ({ ...i, healthTimeoutMs: service.health.timeoutMs, usesDatabase: service.usesDatabase })),
    ),
    frontends: lb
      ? lb.frontends.map((f) => {
          const service = findService(inventory, f.service);
          return {
            service: f.service,
            healthUrl: `http://${lb.address}:${f.listen}${service.health.path}`,
            healthTimeoutMs: service.health.timeoutMs,
          };
        })
      : [],
    loadBalancer: lb ? { host: lb.host, taskQueue: hostTaskQueue(findHost(inventory, lb.host)) } : null,
    postgres: inventory.postgres
      ? {
          nodes: inventory.postgres.nodes.map((n) => ({
            name: n.name,
            role: n.role,
            host: n.host,
            taskQueue: hostTaskQueue(findHost(inventory, n.host)),
            fenced: n.fenced,
            // A server run from a data directory on its host (not a container): pg_ctl and pg_rewind act on it.
            local: n.dataDirectory !== undefined,
          })),
          maxLagBytes: inventory.postgres.maxLagBytes,
          databases: inventory.postgres.databases ?? [inventory.postgres.database],
          primaryTaskQueue: hostTaskQueue(findHost(inventory, primaryNode(inventory).host)),
          walArchiveEnabled: inventory.backup.walArchive.enabled,
        }
      : null,
    redis: inventory.redis
      ? { host: inventory.redis.host, taskQueue: hostTaskQueue(findHost(inventory, inventory.redis.host)) }
      : null,
    storage: inventory.storage ? { bucket: inventory.storage.bucket } : null,
    configBackupHosts: inventory.backup.configPaths.map((entry) => ({
      name: entry.host,
      taskQueue: hostTaskQueue(findHost(inventory, entry.host)),
    })),
    thresholds: inventory.alerts.thresholds,
    alerting: {
      priorities: inventory.alerts.priorities,
      remediation: inventory.alerts.remediation,
      routes: inventory.alerts.routes,
      contacts: inventory.alerts.contacts,
      patrolEvery: inventory.alerts.patrolEvery,
      accessLog: Boolean(lb?.accessLog),
    },
    restore: drillHostOf(inventory)
      ? {
          drillHost: drillHostOf(inventory)!,
          drillTaskQueue: hostTaskQueue(findHost(inventory, drillHostOf(inventory)!)),
          maxDrillAgeDays: inventory.restore.maxDrillAgeDays,
        }
      : null,
    backup: {
      retention: inventory.backup.retention,
      maxAgeHours: inventory.backup.maxAgeHours,
      offsite: Boolean(inventory.backup.offsite),
      sources: expectedBackupSources(inventory),
    },
  };
}

/** The host restore drills run on: `restore.drillHost`, else the PostgreSQL primary's host. */
export function drillHostOf(inventory: Inventory): string | undefined {
  return inventory.restore.drillHost ?? (inventory.postgres ? primaryNode(inventory).host : undefined);
}
