import type { ProbeResult } from '../activities/probe-result';
import type { TopologyView } from '../inventory/topology';

export const ComponentKind = {
  app: 'app',
  loadBalancer: 'load-balancer',
  postgres: 'postgres',
  redis: 'redis',
  storage: 'storage',
  docker: 'docker',
  container: 'container',
} as const;
export type ComponentKind = (typeof ComponentKind)[keyof typeof ComponentKind];

export interface ComponentHealth extends ProbeResult {
  kind: ComponentKind;
  /** What was probed: an instance, a frontend, a node, a container, a host. */
  target: string;
}

export interface HealthReport {
  checkedAt: string;
  /** healthy: all up; degraded: something degraded, nothing down; unhealthy: something down. */
  overall: 'healthy' | 'degraded' | 'unhealthy';
  counts: { up: number; degraded: number; down: number };
  components: ComponentHealth[];
}

type Thresholds = TopologyView['thresholds'];

/** Marks an up HTTP component degraded when it answers slower than the guide's limit. */
export function judgeResponseTime(component: ComponentHealth, thresholds: Thresholds): ComponentHealth {
  if (component.status !== 'up' || component.latencyMs <= thresholds.httpResponseMs) return component;
  return {
    ...component,
    status: 'degraded',
    reason: `responded in ${component.latencyMs} ms, over the ${thresholds.httpResponseMs} ms limit`,
  };
}

/** Connections as a share of max_connections over the guide's 80 % make a node degraded. */
export function judgePostgresConnections(component: ComponentHealth, thresholds: Thresholds): ComponentHealth {
  const { connections, maxConnections } = component.detail;
  if (component.status !== 'up' || typeof connections !== 'number' || typeof maxConnections !== 'number') {
    return component;
  }
  const percent = (connections / maxConnections) * 100;
  if (percent <= thresholds.pgConnectionsPercent) return component;
  return {
    ...component,
    status: 'degraded',
    reason: `${connections} of ${maxConnections} connections in use (${percent.toFixed(0)} %), over ${thresholds.pgConnectionsPercent} %`,
  };
}

/**
 * A replica's lag comes from the primary's view of it (pg_stat_replication, matched by name).
 * Over `maxLagBytes`, or absent from the primary's list, it is degraded.
 */
export function judgeReplicaLag(
  replica: ComponentHealth,
  primary: { status: ProbeResult['status']; replication: { name: string; lagBytes: number | null }[] } | undefined,
  maxLagBytes: number,
): ComponentHealth {
  if (replica.status === 'down' || !primary || primary.status === 'down') return replica;
  const stream = primary.replication.find((r) => r.name === replica.target);
  if (!stream) {
    return {
      ...replica,
      status: 'degraded',
      reason: replica.reason ?? `the primary lists no replication connection from ${replica.target}`,
    };
  }
  const detail = { ...replica.detail, lagBytes: stream.lagBytes };
  if (stream.lagBytes !== null && stream.lagBytes > maxLagBytes) {
    return {
      ...replica,
      detail,
      status: 'degraded',
      reason: `replication lag ${formatBytes(stream.lagBytes)} exceeds maxLagBytes ${formatBytes(maxLagBytes)}`,
    };
  }
  return { ...replica, detail };
}

export function judgeRedisMemory(component: ComponentHealth, thresholds: Thresholds): ComponentHealth {
  const percent = component.detail.memoryPercent;
  if (component.status !== 'up' || typeof percent !== 'number' || percent <= thresholds.redisMemoryPercent) {
    return component;
  }
  return {
    ...component,
    status: 'degraded',
    reason: `memory at ${percent} % of maxmemory, over ${thresholds.redisMemoryPercent} %`,
  };
}

export function summarize(components: ComponentHealth[], checkedAt: Date): HealthReport {
  const counts = { up: 0, degraded: 0, down: 0 };
  for (const c of components) counts[c.status] += 1;
  const overall = counts.down > 0 ? 'unhealthy' : counts.degraded > 0 ? 'degraded' : 'healthy';
  return { checkedAt: checkedAt.toISOString(), overall, counts, components };
}

/** A share or rate with one decimal, as reports and alerts show them: 91.2 (%). */
export function round1(n: number): number {
  return Math.round(n * 10) / 10;
}

/** Bytes in the largest binary unit under 1024, one decimal below 10: "512 B", "1.5 GiB", "16 MiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
