import { continueAsNew, defineQuery, log, proxyActivities, setHandler, sleep } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { AccessLogSummary } from '../activities/access-log';
import type { ProbeResult } from '../activities/probe-result';
import type { TopologyView } from '../inventory/topology';
import { ActivityPresets } from './activity-options';
import { evaluateAlerts, inhibitions, type Alert, type AlertPolicy, type PatrolSample } from './alert-rules';
import { collectBackupFreshness } from './backup-status';
import { msOf } from './durations';
import { HealthPatrolInputSchema, type HealthPatrolInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.patrol);

/** What one patrol hands the next, across continue-as-new: counters to take differences of, what fires. */
export interface PatrolState {
  patrols: number;
  /** Dedup key → what the incident was last told, and at which patrol. */
  firing: Record<string, { priority: string; inhibitedBy?: string; signalledAt: number }>;
  redisCounters?: { hits: number; misses: number };
  storageUp?: boolean;
  accessLogOffset?: number;
  backups?: { checkedAt: string; rows: PatrolSample['backups'] };
}

export interface PatrolReport {
  patrol: number;
  at: string;
  durationMs: number;
  alerts: Alert[];
  inhibited: Record<string, string>;
}

export const patrolReportQuery = defineQuery<PatrolReport | null>('patrolReport');

/** Backups change nightly: their listing is read every ten minutes, not every patrol. */
const backupCheckEveryMs = 10 * 60_000;
/** A firing alert's incident is re-told every this many patrols even unchanged, so a lost incident reopens. */
const refreshEvery = 10;
/** The newest part of the access log read per patrol, so a flood cannot make a patrol slow. */
const accessLogMaxBytes = 8 * 1024 * 1024;

/**
 * The guide's 30-second monitoring (监控频率 30s) as one long-running workflow: every period it probes
 * the whole inventory in parallel, evaluates the alert rules (workflows/alert-rules.ts), opens or updates
 * one incident per firing dedup key through signal-with-start, tells incidents whose alert cleared, and
 * publishes the figures as Prometheus gauges. Kept alive by the `tego-health-patrol` schedule.
 */
export async function healthPatrolWorkflow(input: HealthPatrolInput = {}): Promise<void> {
  const { every, patrolsPerRun, state: carried } = parseInput(HealthPatrolInputSchema, input);
  const progress = beginRun({ kind: 'patrol', target: 'all' });
  let state: PatrolState = (carried as PatrolState | undefined) ?? { patrols: 0, firing: {} };
  let report: PatrolReport | null = null;
  setHandler(patrolReportQuery, () => report);

  for (let run = 0; run < patrolsPerRun; run++) {
    const started = Date.now();
    // An inventory being edited into an invalid state must not end the patrol: it waits for a good one.
    const topology = await probe.describeTopology().catch((err: Error) => (log.error('patrol skipped: the inventory cannot be read', { error: err.message }), null));
    if (!topology) {
      await sleep(msOf(every ?? '30s'));
      continue;
    }
    const { sample, counters } = await collectSample(topology, state);
    const alerts = evaluateAlerts(sample, policyOf(topology));
    const muted = inhibitions(alerts);
    const patrol = state.patrols + 1;

    // An incident hears of its alert when it is new, changed priority or inhibition, or every few patrols.
    const tell = alerts.filter((a) => {
      const last = state.firing[a.dedupKey];
      return !last || last.priority !== a.priority || last.inhibitedBy !== muted.get(a.dedupKey) || patrol - last.signalledAt >= refreshEvery;
    });
    const cleared = Object.keys(state.firing).filter((key) => !alerts.some((a) => a.dedupKey === key));
    if (tell.length > 0 || cleared.length > 0) {
      const told = await probe
        .raiseAlerts({ firing: tell.map((alert) => ({ alert, ...(muted.has(alert.dedupKey) ? { inhibitedBy: muted.get(alert.dedupKey) } : {}) })), cleared })
        .then(
          () => true,
          (err: Error) => (log.warn('could not reach the incidents; the next patrol tells them', { error: err.message }), false),
        );
      if (!told) {
        state = { ...state, ...counters, patrols: patrol };
        await sleep(msOf(every ?? topology.alerting.patrolEvery));
        continue;
      }
    }
    const firing: PatrolState['firing'] = {};
    for (const alert of alerts) {
      const inhibitedBy = muted.get(alert.dedupKey);
      const told = tell.includes(alert);
      firing[alert.dedupKey] = {
        priority: alert.priority,
        ...(inhibitedBy ? { inhibitedBy } : {}),
        signalledAt: told ? patrol : state.firing[alert.dedupKey].signalledAt,
      };
    }
    state = { ...state, ...counters, patrols: patrol, firing };

    const durationMs = Date.now() - started;
    const at = new Date().toISOString();
    report = { patrol, at, durationMs, alerts, inhibited: Object.fromEntries(muted) };
    await probe.publishPatrolMetrics({ sample, alerts, durationMs, finishedAt: at }).catch((err: Error) => log.warn('patrol gauges not published', { error: err.message }));
    progress.setPhase(
      `patrol ${patrol} at ${at}: ${alerts.length === 0 ? 'all clear' : `${alerts.length} firing (${alerts.map((a) => `${a.priority} ${a.dedupKey}`).join(', ')})`}`,
    );
    await sleep(Math.max(msOf(every ?? topology.alerting.patrolEvery) - (Date.now() - started), 1000));
  }
  await continueAsNew<typeof healthPatrolWorkflow>({ ...input, state });
}

function policyOf(topology: TopologyView): AlertPolicy {
  return {
    thresholds: topology.thresholds,
    priorities: topology.alerting.priorities,
    remediation: topology.alerting.remediation,
    maxLagBytes: topology.postgres?.maxLagBytes ?? Number.MAX_SAFE_INTEGER,
  };
}

/** Probes everything at once; each probe reports its component down rather than failing. */
async function collectSample(
  topology: TopologyView,
  state: PatrolState,
): Promise<{ sample: PatrolSample; counters: Pick<PatrolState, 'redisCounters' | 'accessLogOffset' | 'backups' | 'storageUp'> }> {
  const http = (url: string, timeoutMs: number) => probe.probeHttp({ url, timeoutMs });
  const lb = topology.loadBalancer;
  const now = new Date();
  // The listing's activities ride out storage outages for minutes: only read when the bucket last answered.
  const backupsDue =
    topology.storage && state.storageUp !== false && (!state.backups || now.getTime() - Date.parse(state.backups.checkedAt) >= backupCheckEveryMs);

  const [instanceHealth, frontends, nodes, redis, storage, hostReports, accessLog, taskQueues, backups] = await Promise.all([
    Promise.all(topology.instances.map((i) => http(i.healthUrl, i.healthTimeoutMs))),
    Promise.all(topology.frontends.map(async (f) => ({ service: f.service, probe: await http(f.healthUrl, f.healthTimeoutMs) }))),
    topology.postgres ? Promise.all(topology.postgres.nodes.map((n) => probe.probePostgresNode(n.name))) : Promise.resolve([]),
    topology.redis ? probe.probeRedis() : Promise.resolve(null),
    topology.storage ? probe.probeBucket() : Promise.resolve(null),
    Promise.all(topology.hosts.map((h) => inspectHost(h))),
    lb && topology.alerting.accessLog ? readAccessLog(lb, state.accessLogOffset) : Promise.resolve(null),
    probe.taskQueueBacklogs([topology.sharedTaskQueue, ...topology.hosts.map((h) => h.taskQueue)]).catch((err: Error) => {
      log.warn('task queue backlogs unknown', { error: err.message });
      return [];
    }),
    backupsDue
      ? collectBackupFreshness(topology, now).then(
          (rows) => ({
            checkedAt: now.toISOString(),
            rows: rows.map((r) => ({ source: r.source ?? r.kind, stale: r.stale, ...(r.problem ? { problem: r.problem } : {}) })),
          }),
          (err: Error) => (log.warn('backup freshness unknown this patrol', { error: err.message }), state.backups),
        )
      : Promise.resolve(state.backups),
  ]);

  const containerStates = new Map(hostReports.flatMap((r) => r.containers.map((c) => [c.name, c.state] as const)));
  const primary = topology.postgres?.nodes.findIndex((n) => n.role === 'primary') ?? -1;
  const streams = primary >= 0 ? nodes[primary].replication : [];
  const hits = redis?.status === 'up' ? Number(redis.detail.keyspaceHits) : undefined;
  const misses = redis?.status === 'up' ? Number(redis.detail.keyspaceMisses) : undefined;
  const previous = state.redisCounters;
  const delta = (now: number | undefined, before: number | undefined) => (now !== undefined && before !== undefined && now >= before ? now - before : 0);
  const hitDelta = delta(hits, previous?.hits);
  const lookups = hitDelta + delta(misses, previous?.misses);

  const sample: PatrolSample = {
    postgres: (topology.postgres?.nodes ?? []).map((node, i) => {
      const stream = streams.find((s) => s.name === node.name);
      return {
        node: node.name,
        role: node.role,
        probe: nodes[i],
        lagBytes: stream?.lagBytes ?? null,
        // Judged from the primary's side; with the primary down there is nothing to stream from.
        streaming: node.role === 'primary' || nodes[primary]?.status === 'down' || stream?.state === 'streaming',
      };
    }),
    redis: redis ? { probe: redis, lookups, hits: hitDelta } : null,
    instances: topology.instances.map((instance, i) => {
      const hostReport = hostReports.find((r) => r.host === instance.host);
      const state = hostReport?.reachable ? (containerStates.get(instance.containerName) ?? 'missing') : null;
      const health = instanceHealth[i];
      return {
        service: instance.service,
        host: instance.host,
        container: instance.containerName,
        healthUrl: instance.healthUrl,
        healthTimeoutMs: instance.healthTimeoutMs,
        // A container that is not running is down even if something else answers on its port.
        health: state !== null && state !== 'running' && health.status !== 'down' ? { ...health, status: 'down', reason: `container is ${state}` } : health,
        containerState: state,
      };
    }),
    frontends,
    traffic: (accessLog?.frontends ?? []).map((f) => ({ service: f.service, requests: f.requests, serverErrors: f.serverErrors })),
    hosts: hostReports.map((r) => ({ host: r.host, probe: r.probe })),
    storage,
    backups: backups?.rows ?? [],
    taskQueues,
  };
  return {
    sample,
    counters: {
      redisCounters: hits !== undefined && misses !== undefined ? { hits, misses } : previous,
      accessLogOffset: accessLog?.offset ?? state.accessLogOffset,
      backups,
      storageUp: storage ? storage.status !== 'down' : undefined,
    },
  };
}

/** The host's containers through its own worker; a host whose worker or engine is gone is reported down. */
async function inspectHost(
  host: TopologyView['hosts'][number],
): Promise<{ host: string; reachable: boolean; probe: ProbeResult; containers: { name: string; state: string }[] }> {
  const onHost = proxyActivities<HostActivities>({ ...ActivityPresets.patrol, scheduleToStartTimeout: '15 seconds', taskQueue: host.taskQueue, retry: { maximumAttempts: 1 } });
  try {
    const report = await onHost.inspectHostContainers(host.name);
    return { host: host.name, reachable: report.engine.status !== 'down', probe: report.engine, containers: report.containers };
  } catch (err) {
    const reason = `no answer from the worker of ${host.name} (task queue ${host.taskQueue}): ${(err as Error).message}`;
    return { host: host.name, reachable: false, probe: { status: 'down', latencyMs: 0, reason, detail: {} }, containers: [] };
  }
}

async function readAccessLog(lb: NonNullable<TopologyView['loadBalancer']>, offset: number | undefined): Promise<AccessLogSummary | null> {
  const onLb = proxyActivities<HostActivities>({ ...ActivityPresets.patrol, scheduleToStartTimeout: '15 seconds', taskQueue: lb.taskQueue, retry: { maximumAttempts: 1 } });
  try {
    return await onLb.summarizeAccessLog({ host: lb.host, maxBytes: accessLogMaxBytes, ...(offset !== undefined ? { offset } : {}) });
  } catch {
    return null; // the load balancer's worker is gone: its host's docker-engine-down alert says so
  }
}
