import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { RejoinResult } from '../activities/postgres-server';
import type { TopologyView } from '../inventory/topology';
import { ActivityPresets } from './activity-options';
import type { Change } from './change-control';
import { ErrorType } from './error-types';
import { healthGate } from './gates';
import { onHostQueue } from './host-queues';

/** What switchover, failover and rejoin share: the cluster as the inventory has it, and their common steps. */

export type ClusterNode = NonNullable<TopologyView['postgres']>['nodes'][number];

export interface Cluster {
  primary: ClusterNode;
  replicas: ClusterNode[];
  maxLagBytes: number;
  /** App instances that use the database: stopped, repointed and health-checked around a role change. */
  apps: TopologyView['instances'];
  node(name: string): ClusterNode;
  /** Server and data-directory activities on the node's own host. */
  onHostOf(node: ClusterNode): ServerActivities;
  /** Long copies on the node's host (pg_rewind, pg_basebackup), heartbeating. */
  copyOnHostOf(node: ClusterNode): ServerActivities;
  /** Docker activities on an app instance's host. */
  dockerOn(host: string): ServerActivities;
}

type ServerActivities = ReturnType<typeof proxyActivities<HostActivities>>;

export const replication = proxyActivities<SharedActivities>(ActivityPresets.replication);
/** Waits on replay and streaming: quick retries, so a caught-up replica is seen at once; a deadline of minutes. */
export const catchUp = proxyActivities<SharedActivities>({
  startToCloseTimeout: '15 seconds',
  scheduleToCloseTimeout: '3 minutes',
  retry: { initialInterval: '100 milliseconds', backoffCoefficient: 1.5, maximumInterval: '2 seconds' },
});

export function clusterOf(topology: TopologyView): Cluster {
  const pg = topology.postgres;
  if (!pg) throw ApplicationFailure.nonRetryable('the inventory has no postgres section', ErrorType.UnknownTarget);
  const queueOf = new Map(topology.hosts.map((h) => [h.name, h.taskQueue]));
  return {
    primary: pg.nodes.find((n) => n.role === 'primary')!,
    replicas: pg.nodes.filter((n) => n.role === 'replica'),
    maxLagBytes: pg.maxLagBytes,
    apps: topology.instances.filter((i) => i.usesDatabase),
    node(name) {
      const node = pg.nodes.find((n) => n.name === name);
      if (!node) throw ApplicationFailure.nonRetryable(`unknown PostgreSQL node ${name} (nodes: ${pg.nodes.map((n) => n.name).join(', ')})`, ErrorType.UnknownTarget);
      return node;
    },
    onHostOf: (node) => onHostQueue(node.taskQueue),
    copyOnHostOf: (node) => proxyActivities<HostActivities>({ ...ActivityPresets.transfer, scheduleToStartTimeout: '1 minute', taskQueue: node.taskQueue }),
    dockerOn: (host) => onHostQueue(queueOf.get(host)!),
  };
}

/** Refuses, before anything is touched, nodes whose server tego-ops cannot stop, start or rewind. */
export function requireManagedServers(...nodes: ClusterNode[]): void {
  const unmanaged = nodes.filter((n) => !n.local);
  if (unmanaged.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `${unmanaged.map((n) => n.name).join(', ')} ha${unmanaged.length > 1 ? 've' : 's'} no dataDirectory in the inventory: switchover, failover and rejoin act on servers run from a data directory on their host`,
      ErrorType.UnknownTarget,
    );
  }
}

/** Recreates each app that uses the database pointed at `database`, then waits until every one is healthy. */
export async function repointApps(change: Change, cluster: Cluster, database: string, undoTo?: string): Promise<string[]> {
  for (const app of cluster.apps) {
    const docker = cluster.dockerOn(app.host);
    await change.step(
      `point ${app.containerName} at ${database}`,
      () => docker.recreateContainer({ host: app.host, container: app.containerName, database }),
      undoTo ? () => docker.recreateContainer({ host: app.host, container: app.containerName, database: undoTo }) : undefined,
      (r) => (r.recreated ? `recreated on ${r.image}` : 'already pointed there'),
    );
  }
  for (const app of cluster.apps) {
    const gate = healthGate(Math.max(60_000, app.healthTimeoutMs * 20));
    await change.check(`wait until ${app.containerName} is healthy`, () => gate.requireHealthy({ url: app.healthUrl, timeoutMs: app.healthTimeoutMs }));
  }
  return cluster.apps.map((a) => a.containerName);
}

/**
 * Brings `node` back as a streaming replica of `primary` (pg_rewind when it diverged, a fresh copy when
 * that cannot) and waits until it streams.
 */
export async function rejoinAsReplica(cluster: Cluster, node: ClusterNode, primary: ClusterNode): Promise<RejoinResult & { lagBytes: number }> {
  const rejoined = await cluster.copyOnHostOf(node).rejoinAsReplica({ node: node.name, primary: primary.name });
  const { lagBytes } = await catchUp.requireStreaming({ primary: primary.name, replica: node.name });
  return { ...rejoined, lagBytes };
}
