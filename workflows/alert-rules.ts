import type { ProbeResult } from '../activities/probe-result';
import { formatBytes, round1 } from './health-report';

/**
 * The guide's 关键监控指标 as rules: what each one watches, its default priority (告警级别: P0 service
 * unavailable, P1 badly degraded, P2 abnormal, P3 worth recording) and what a person should do about it.
 * Pure: the patrol gathers a sample, these turn it into alerts, the same sample always giving the same alerts.
 */
export const AlertRules = {
  'postgres-primary-down': { priority: 'P0', watches: 'the PostgreSQL primary answers' },
  'postgres-replica-down': { priority: 'P1', watches: 'each replica answers and streams' },
  'postgres-replica-lag': { priority: 'P2', watches: 'replication lag within postgres.maxLagBytes' },
  'postgres-connections': { priority: 'P2', watches: 'connections under thresholds.pgConnectionsPercent of max_connections' },
  'postgres-slow-queries': { priority: 'P2', watches: 'no query running longer than thresholds.pgSlowQuerySeconds' },
  'postgres-lock-waits': { priority: 'P2', watches: 'no backend waiting on a lock longer than thresholds.pgLockWaitSeconds' },
  'redis-down': { priority: 'P1', watches: 'Redis answers' },
  'redis-memory': { priority: 'P2', watches: 'memory under thresholds.redisMemoryPercent of maxmemory' },
  'redis-hit-rate': { priority: 'P3', watches: 'hit rate between patrols over thresholds.redisHitRatePercent' },
  'service-down': { priority: 'P0', watches: 'a service has at least one healthy instance and its frontend answers' },
  'app-instance-down': { priority: 'P1', watches: "each instance's container runs and its health check passes" },
  'app-slow': { priority: 'P2', watches: 'health checks answer within thresholds.httpResponseMs' },
  'app-error-rate': { priority: 'P1', watches: "5xx share of a service's requests through nginx under thresholds.httpErrorRatePercent" },
  'docker-engine-down': { priority: 'P1', watches: "each host's Docker engine and worker answer" },
  'storage-down': { priority: 'P2', watches: 'the backup bucket answers' },
  'backup-stale': { priority: 'P2', watches: 'every backup source has a backup newer than backup.maxAgeHours' },
  'queue-backlog': { priority: 'P2', watches: 'tasks waiting on a task queue under thresholds.queueBacklog' },
} as const satisfies Record<string, { priority: Priority; watches: string }>;

export type AlertRuleId = keyof typeof AlertRules;
export const alertRuleIds = Object.keys(AlertRules) as AlertRuleId[];

export const Priorities = ['P0', 'P1', 'P2', 'P3'] as const;
export type Priority = (typeof Priorities)[number];

/** What an incident may do about an alert by itself. */
export type Remediation =
  | { kind: 'restart-container'; host: string; container: string; healthUrl: string; healthTimeoutMs: number }
  | { kind: 'failover'; node: string };

export interface Alert {
  rule: AlertRuleId;
  /** What fires: an instance's container, a node, a service, a source. */
  target: string;
  priority: Priority;
  /** The app service it concerns, for inhibition: a P0 on a service mutes its lower alerts. */
  service?: string;
  /** `rule:target`: one incident per key, however many patrols see it. */
  dedupKey: string;
  /** One line for a pager. */
  summary: string;
  /** What was measured and what to do about it. */
  description: string;
  value?: number;
  threshold?: number;
  remediation?: Remediation;
}

export interface AlertPolicy {
  thresholds: {
    pgConnectionsPercent: number;
    pgSlowQuerySeconds: number;
    pgLockWaitSeconds: number;
    redisMemoryPercent: number;
    redisHitRatePercent: number;
    redisHitRateMinLookups: number;
    httpResponseMs: number;
    httpErrorRatePercent: number;
    httpErrorRateMinRequests: number;
    queueBacklog: number;
  };
  /** Rule → priority, where the inventory overrides the default. */
  priorities: Partial<Record<string, Priority>>;
  remediation: { restartContainers: boolean; restartServices?: string[]; failover: 'off' | 'approval' | 'automatic' };
  maxLagBytes: number;
}

/** Everything one patrol saw. Counters (Redis lookups, requests) are differences since the previous patrol. */
export interface PatrolSample {
  postgres: { node: string; role: 'primary' | 'replica'; probe: ProbeResult; lagBytes: number | null; streaming: boolean }[];
  redis: { probe: ProbeResult; lookups: number; hits: number } | null;
  instances: {
    service: string;
    host: string;
    container: string;
    healthUrl: string;
    healthTimeoutMs: number;
    health: ProbeResult;
    /** Docker's state of the container; null when the host's worker could not say. */
    containerState: string | null;
  }[];
  frontends: { service: string; probe: ProbeResult }[];
  /** Requests through nginx per service since the previous patrol (its access log); absent without one. */
  traffic: { service: string; requests: number; serverErrors: number }[];
  hosts: { host: string; probe: ProbeResult }[];
  storage: ProbeResult | null;
  backups: { source: string; stale: boolean; problem?: string }[];
  taskQueues: { name: string; backlog: number }[];
}

/**
 * Turns one sample into the alerts that fire now. A down component raises only its down alert (a dead
 * instance is not also "slow"); a service with no healthy instance raises `service-down` besides.
 */
export function evaluateAlerts(sample: PatrolSample, policy: AlertPolicy): Alert[] {
  const t = policy.thresholds;
  const alerts: Alert[] = [];
  const raise = (rule: AlertRuleId, target: string, fields: Omit<Alert, 'rule' | 'target' | 'priority' | 'dedupKey'>) =>
    alerts.push({ rule, target, priority: policy.priorities[rule] ?? AlertRules[rule].priority, dedupKey: `${rule}:${target}`, ...fields });

  for (const node of sample.postgres) {
    const { probe } = node;
    if (probe.status === 'down') {
      const primary = node.role === 'primary';
      raise(primary ? 'postgres-primary-down' : 'postgres-replica-down', node.node, {
        summary: `PostgreSQL ${node.role} ${node.node} is down`,
        description: `${probe.reason ?? 'no answer'}. ${
          primary
            ? 'Writes fail on every service that uses the database. Check the server and its host; if it cannot be brought back, run `tego-ops start db-failover`.'
            : 'Reads and failover protection are lost. Check the server; `tego-ops start db-rejoin` brings a fenced node back.'
        }`,
        ...(primary && policy.remediation.failover !== 'off' ? { remediation: { kind: 'failover', node: node.node } as const } : {}),
      });
      continue;
    }
    const d = probe.detail;
    if (node.role === 'replica' && !node.streaming) {
      raise('postgres-replica-down', node.node, {
        summary: `replica ${node.node} is not streaming`,
        description: `${probe.reason ?? 'the primary lists no replication connection from it'}. Check primary_conninfo and the replica's log.`,
      });
    } else if (node.role === 'replica' && node.lagBytes !== null && node.lagBytes > policy.maxLagBytes) {
      raise('postgres-replica-lag', node.node, {
        summary: `replica ${node.node} lags ${formatBytes(node.lagBytes)}`,
        description: `Replication lag ${formatBytes(node.lagBytes)} exceeds maxLagBytes ${formatBytes(policy.maxLagBytes)}: a failover now would lose that much. Look for long transactions or I/O saturation on the replica.`,
        value: node.lagBytes,
        threshold: policy.maxLagBytes,
      });
    }
    if (typeof d.connections === 'number' && typeof d.maxConnections === 'number' && d.maxConnections > 0) {
      const percent = round1((d.connections / d.maxConnections) * 100);
      if (percent > t.pgConnectionsPercent) {
        raise('postgres-connections', node.node, {
          summary: `${node.node}: ${percent} % of connections in use`,
          description: `${d.connections} of ${d.maxConnections} connections in use, over ${t.pgConnectionsPercent} %. New clients will soon be refused: look for connection leaks (pg_stat_activity by application) or add a pooler.`,
          value: percent,
          threshold: t.pgConnectionsPercent,
        });
      }
    }
    if (typeof d.slowQueries === 'number' && d.slowQueries > 0) {
      raise('postgres-slow-queries', node.node, {
        summary: `${node.node}: ${d.slowQueries} quer${d.slowQueries === 1 ? 'y' : 'ies'} running over ${t.pgSlowQuerySeconds} s`,
        description: `The longest has run ${d.longestQuerySeconds} s (pid ${d.longestQueryPid}): ${d.longestQuery}. Inspect it in pg_stat_activity; pg_cancel_backend(pid) stops it.`,
        value: Number(d.longestQuerySeconds),
        threshold: t.pgSlowQuerySeconds,
      });
    }
    if (typeof d.lockWaits === 'number' && d.lockWaits > 0) {
      raise('postgres-lock-waits', node.node, {
        summary: `${node.node}: ${d.lockWaits} backend${d.lockWaits === 1 ? '' : 's'} waiting on locks over ${t.pgLockWaitSeconds} s`,
        description: `The longest wait is ${d.longestLockWaitSeconds} s (pid ${d.longestLockWaitPid}, blocked by ${d.lockBlockers || 'unknown'}). pg_blocking_pids() names the holders; end the blocking transaction if it is stuck.`,
        value: Number(d.longestLockWaitSeconds),
        threshold: t.pgLockWaitSeconds,
      });
    }
  }

  if (sample.redis) {
    const { probe, lookups, hits } = sample.redis;
    if (probe.status === 'down') {
      raise('redis-down', 'redis', {
        summary: 'Redis is down',
        description: `${probe.reason ?? 'no answer'}. Sessions and caches are unavailable; check the server and its host.`,
      });
    } else {
      const memory = probe.detail.memoryPercent;
      if (typeof memory === 'number' && memory > t.redisMemoryPercent) {
        raise('redis-memory', 'redis', {
          summary: `Redis memory at ${memory} % of maxmemory`,
          description: `used ${formatBytes(Number(probe.detail.usedMemoryBytes))} of ${formatBytes(Number(probe.detail.maxMemoryBytes))}, over ${t.redisMemoryPercent} %. Keys will be evicted or writes refused: find the big keys (redis-cli --bigkeys), check TTLs, or raise maxmemory.`,
          value: memory,
          threshold: t.redisMemoryPercent,
        });
      }
      if (lookups >= t.redisHitRateMinLookups) {
        const rate = round1((hits / lookups) * 100);
        if (rate < t.redisHitRatePercent) {
          raise('redis-hit-rate', 'redis', {
            summary: `Redis hit rate ${rate} %`,
            description: `${hits} hits in ${lookups} lookups since the previous patrol, under ${t.redisHitRatePercent} %. The cache is not holding what is read: check TTLs and evictions (INFO stats evicted_keys).`,
            value: rate,
            threshold: t.redisHitRatePercent,
          });
        }
      }
    }
  }

  const restartable = (service: string) =>
    policy.remediation.restartContainers && (!policy.remediation.restartServices || policy.remediation.restartServices.includes(service));
  const services = [...new Set(sample.instances.map((i) => i.service))];
  for (const service of services) {
    const instances = sample.instances.filter((i) => i.service === service);
    const down = instances.filter((i) => i.health.status === 'down');
    const frontend = sample.frontends.find((f) => f.service === service);
    if (down.length === instances.length || frontend?.probe.status === 'down') {
      raise('service-down', service, {
        service,
        summary: `${service} is unavailable`,
        description:
          down.length === instances.length
            ? `None of its ${instances.length} instance${instances.length === 1 ? '' : 's'} is healthy (${down.map((i) => `${i.container}: ${i.health.reason ?? 'down'}`).join('; ')}).`
            : `Its frontend through nginx fails (${frontend!.probe.reason ?? 'down'}) while ${instances.length - down.length} instance(s) are healthy: check nginx on the load balancer (error.log, \`nginx -t\`).`,
      });
    }
    for (const instance of instances) {
      if (instance.health.status === 'down') {
        const stopped = instance.containerState !== null && instance.containerState !== 'running';
        raise('app-instance-down', instance.container, {
          service,
          summary: `${instance.container} (${service} on ${instance.host}) is ${stopped ? instance.containerState : 'unhealthy'}`,
          description: stopped
            ? `The container is ${instance.containerState}. \`docker logs ${instance.container}\` on ${instance.host} says why; \`docker start ${instance.container}\` brings it back.`
            : `Its health check ${instance.healthUrl} fails: ${instance.health.reason ?? 'no answer'}. Check its logs and its dependencies.`,
          ...(restartable(service)
            ? {
                remediation: {
                  kind: 'restart-container',
                  host: instance.host,
                  container: instance.container,
                  healthUrl: instance.healthUrl,
                  healthTimeoutMs: instance.healthTimeoutMs,
                } as const,
              }
            : {}),
        });
      } else if (instance.health.latencyMs > t.httpResponseMs) {
        raise('app-slow', instance.container, {
          service,
          summary: `${instance.container} answers in ${instance.health.latencyMs} ms`,
          description: `Its health check took ${instance.health.latencyMs} ms, over ${t.httpResponseMs} ms. Check its CPU and memory (docker stats) and what it waits on.`,
          value: instance.health.latencyMs,
          threshold: t.httpResponseMs,
        });
      }
    }
  }
  for (const traffic of sample.traffic) {
    if (traffic.requests < t.httpErrorRateMinRequests) continue;
    const rate = round1((traffic.serverErrors / traffic.requests) * 100);
    if (rate > t.httpErrorRatePercent) {
      raise('app-error-rate', traffic.service, {
        service: traffic.service,
        summary: `${traffic.service}: ${rate} % of requests fail`,
        description: `${traffic.serverErrors} of ${traffic.requests} requests through nginx since the previous patrol answered 5xx, over ${t.httpErrorRatePercent} %. Check the instances' logs; a recent deploy can be rolled back.`,
        value: rate,
        threshold: t.httpErrorRatePercent,
      });
    }
  }

  for (const host of sample.hosts) {
    if (host.probe.status === 'down') {
      raise('docker-engine-down', host.host, {
        summary: `host ${host.host}: Docker or its worker does not answer`,
        description: `${host.probe.reason ?? 'no answer'}. Its containers cannot be inspected or restarted: check dockerd and the tego-ops worker on ${host.host}.`,
      });
    }
  }
  if (sample.storage?.status === 'down') {
    raise('storage-down', 'bucket', {
      summary: 'the backup bucket does not answer',
      description: `${sample.storage.reason ?? 'no answer'}. Backups will fail until it does: check the S3 endpoint and credentials.`,
    });
  }
  for (const backup of sample.backups.filter((b) => b.stale)) {
    raise('backup-stale', backup.source, {
      summary: `no fresh backup of ${backup.source}`,
      description: `${backup.problem ?? 'stale'}. \`tego-ops backups status\` shows every source; \`tego-ops schedules list\` whether the nightly run is paused or failing.`,
    });
  }
  for (const queue of sample.taskQueues) {
    if (queue.backlog > t.queueBacklog) {
      raise('queue-backlog', queue.name, {
        summary: `${queue.backlog} tasks waiting on ${queue.name}`,
        description: `Over ${t.queueBacklog}: its workers are missing, stuck or too few. Check \`temporal task-queue describe --task-queue ${queue.name}\` for pollers.`,
        value: queue.backlog,
        threshold: t.queueBacklog,
      });
    }
  }
  return alerts;
}

/**
 * Alertmanager's inhibition: while a service has a P0 alert, its lower-priority alerts are muted (the
 * incident stays open, without paging). Returns dedup key → the P0 key that mutes it.
 */
export function inhibitions(alerts: Alert[]): Map<string, string> {
  const muted = new Map<string, string>();
  for (const alert of alerts) {
    if (!alert.service || alert.priority === 'P0') continue;
    const p0 = alerts.find((a) => a.priority === 'P0' && a.service === alert.service);
    if (p0) muted.set(alert.dedupKey, p0.dedupKey);
  }
  return muted;
}
