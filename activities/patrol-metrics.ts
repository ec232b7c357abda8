import { Gauge, type Registry } from 'prom-client';
import type { Alert, PatrolSample } from '../workflows/alert-rules';
import type { ActivityDeps } from './deps';

/**
 * The patrol's findings as Prometheus gauges on the worker's `/metrics`, for the shipped alert rules and
 * Grafana dashboard (monitoring/). Each publish replaces the previous sample, so a target that is gone
 * stops being reported. The worker that ran the latest patrol has the current values: see
 * `tego_patrol_last_run_timestamp_seconds`.
 */
function createPatrolGauges(registry: Registry) {
  const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
    new Gauge<L>({ name, help, labelNames, registers: [registry] });
  return {
    lastRun: gauge('tego_patrol_last_run_timestamp_seconds', 'When the latest health patrol finished (Unix time)', []),
    duration: gauge('tego_patrol_duration_seconds', 'How long the latest health patrol took: probes, rules and telling the incidents', []),
    alertsFiring: gauge('tego_alerts_firing', 'Alerts firing after the latest patrol, by rule, target and priority', ['rule', 'target', 'priority']),
    postgresUp: gauge('tego_postgres_up', 'PostgreSQL node answers (1) or not (0)', ['node', 'role']),
    postgresConnections: gauge('tego_postgres_connections_ratio', 'Client connections as a share of max_connections', ['node']),
    postgresSlowQueries: gauge('tego_postgres_slow_queries', 'Queries running longer than pgSlowQuerySeconds', ['node']),
    postgresLockWaits: gauge('tego_postgres_lock_waits', 'Backends waiting on a lock longer than pgLockWaitSeconds', ['node']),
    postgresLag: gauge('tego_postgres_replication_lag_bytes', "Replica's replay lag behind the primary", ['node']),
    postgresStreaming: gauge('tego_postgres_replica_streaming', "Replica streams from the primary (1) or not (0), as the primary sees it", ['node']),
    // A `target` label even where there is one Redis: a labelled series disappears on reset, an unlabelled
    // one would read 0 (Redis "down") in an inventory without Redis.
    redisUp: gauge('tego_redis_up', 'Redis answers (1) or not (0)', ['target']),
    redisMemory: gauge('tego_redis_memory_ratio', 'used_memory as a share of maxmemory (absent without maxmemory)', ['target']),
    redisHitRatio: gauge('tego_redis_hit_ratio', 'Keyspace hits per lookup between the two latest patrols (absent without lookups)', ['target']),
    redisLookups: gauge('tego_redis_lookups', 'Keyspace lookups (hits + misses) between the two latest patrols', ['target']),
    redisClients: gauge('tego_redis_connected_clients', 'Connected Redis clients', ['target']),
    storageUp: gauge('tego_storage_up', 'The backup bucket answers (1) or not (0)', ['bucket']),
    appUp: gauge('tego_app_up', "App instance's container runs and its health check passes (1) or not (0)", ['service', 'host', 'container']),
    appLatency: gauge('tego_app_health_latency_seconds', "App instance's health check response time", ['service', 'host', 'container']),
    frontendUp: gauge('tego_frontend_up', "Service's health through nginx answers (1) or not (0)", ['service']),
    frontendRequests: gauge('tego_frontend_requests', 'Requests through nginx between the two latest patrols', ['service']),
    frontendErrorRatio: gauge('tego_frontend_error_ratio', 'Share of 5xx answers through nginx between the two latest patrols', ['service']),
    dockerUp: gauge('tego_docker_up', "Host's Docker engine and worker answer (1) or not (0)", ['host']),
    backupStale: gauge('tego_backup_stale', 'Backup source with no backup newer than backup.maxAgeHours (1) or fresh (0)', ['source']),
    queueBacklog: gauge('tego_task_queue_backlog', 'Tasks waiting on a task queue', ['task_queue']),
  };
}

const gaugesByRegistry = new WeakMap<Registry, ReturnType<typeof createPatrolGauges>>();

export function createPatrolMetricsActivities(deps: ActivityDeps) {
  return {
    /** Replaces the patrol gauges with this sample's values. Without a metrics registry it does nothing. */
    async publishPatrolMetrics({ sample, alerts, durationMs, finishedAt }: { sample: PatrolSample; alerts: Alert[]; durationMs: number; finishedAt: string }): Promise<void> {
      if (!deps.metrics) return;
      const bucket = deps.inventory.storage?.bucket;
      let g = gaugesByRegistry.get(deps.metrics);
      if (!g) {
        g = createPatrolGauges(deps.metrics);
        gaugesByRegistry.set(deps.metrics, g);
      }
      for (const gauge of Object.values(g)) gauge.reset();
      const up = (status: string) => (status === 'down' ? 0 : 1);
      g.lastRun.set(Date.parse(finishedAt) / 1000);
      g.duration.set(durationMs / 1000);
      for (const a of alerts) g.alertsFiring.set({ rule: a.rule, target: a.target, priority: a.priority }, 1);
      for (const node of sample.postgres) {
        const d = node.probe.detail;
        g.postgresUp.set({ node: node.node, role: node.role }, up(node.probe.status));
        if (typeof d.connections === 'number' && typeof d.maxConnections === 'number' && d.maxConnections > 0) {
          g.postgresConnections.set({ node: node.node }, d.connections / d.maxConnections);
        }
        if (typeof d.slowQueries === 'number') g.postgresSlowQueries.set({ node: node.node }, d.slowQueries);
        if (typeof d.lockWaits === 'number') g.postgresLockWaits.set({ node: node.node }, d.lockWaits);
        if (node.lagBytes !== null) g.postgresLag.set({ node: node.node }, node.lagBytes);
        if (node.role === 'replica') g.postgresStreaming.set({ node: node.node }, node.streaming && node.probe.status !== 'down' ? 1 : 0);
      }
      if (sample.redis) {
        const d = sample.redis.probe.detail;
        const target = { target: 'redis' };
        g.redisUp.set(target, up(sample.redis.probe.status));
        if (typeof d.memoryPercent === 'number') g.redisMemory.set(target, d.memoryPercent / 100);
        if (typeof d.connectedClients === 'number') g.redisClients.set(target, d.connectedClients);
        g.redisLookups.set(target, sample.redis.lookups);
        if (sample.redis.lookups > 0) g.redisHitRatio.set(target, sample.redis.hits / sample.redis.lookups);
      }
      if (sample.storage && bucket) g.storageUp.set({ bucket }, up(sample.storage.status));
      for (const i of sample.instances) {
        const labels = { service: i.service, host: i.host, container: i.container };
        g.appUp.set(labels, up(i.health.status));
        if (i.health.status !== 'down') g.appLatency.set(labels, i.health.latencyMs / 1000);
      }
      for (const f of sample.frontends) g.frontendUp.set({ service: f.service }, up(f.probe.status));
      for (const t of sample.traffic) {
        g.frontendRequests.set({ service: t.service }, t.requests);
        if (t.requests > 0) g.frontendErrorRatio.set({ service: t.service }, t.serverErrors / t.requests);
      }
      for (const h of sample.hosts) g.dockerUp.set({ host: h.host }, up(h.probe.status));
      for (const b of sample.backups) g.backupStale.set({ source: b.source }, b.stale ? 1 : 0);
      for (const q of sample.taskQueues) g.queueBacklog.set({ task_queue: q.name }, q.backlog);
    },
  };
}
