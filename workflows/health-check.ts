import { TimeoutType } from '@temporalio/common';
import { ActivityFailure, log, proxyActivities, TimeoutFailure, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { PostgresProbeResult } from '../activities/postgres';
import type { ProbeResult } from '../activities/probe-result';
import type { TopologyView } from '../inventory/topology';
import { ActivityPresets } from './activity-options';
import {
  ComponentKind,
  judgePostgresConnections,
  judgeRedisMemory,
  judgeReplicaLag,
  judgeResponseTime,
  summarize,
  type ComponentHealth,
  type HealthReport,
} from './health-report';
import { HealthCheckInputSchema, type HealthCheckInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const shared = proxyActivities<SharedActivities>(ActivityPresets.probe);

/**
 * Probes every component of the inventory in parallel and reports each with its latency:
 * app instances directly and through nginx, PostgreSQL nodes (role, lag), Redis, the backup bucket,
 * and each host's containers through that host's own worker.
 */
export async function healthCheckWorkflow(input: HealthCheckInput = {}): Promise<HealthReport> {
  const { components } = parseInput(HealthCheckInputSchema, input);
  beginRun({ kind: 'health', target: components?.join(',') ?? 'all' });
  const wanted = (group: NonNullable<typeof components>[number]) => !components || components.includes(group);
  const topology = await shared.describeTopology();
  const { thresholds } = topology;

  const checks: Promise<ComponentHealth[]>[] = [];
  if (wanted('apps')) {
    for (const instance of topology.instances) {
      checks.push(
        probeHttp(ComponentKind.app, instance.containerName, instance.healthUrl, instance.healthTimeoutMs).then(
          (c) => [judgeResponseTime(c, thresholds)],
        ),
      );
    }
  }
  if (wanted('loadBalancer')) {
    for (const frontend of topology.frontends) {
      checks.push(
        probeHttp(ComponentKind.loadBalancer, frontend.service, frontend.healthUrl, frontend.healthTimeoutMs).then(
          (c) => [judgeResponseTime(c, thresholds)],
        ),
      );
    }
  }
  if (wanted('postgres') && topology.postgres) checks.push(probePostgres(topology.postgres, thresholds));
  if (wanted('redis') && topology.redis) {
    checks.push(shared.probeRedis().then((r) => [judgeRedisMemory(component(ComponentKind.redis, 'redis', r), thresholds)]));
  }
  if (wanted('storage') && topology.storage) {
    checks.push(shared.probeBucket().then((r) => [component(ComponentKind.storage, topology.storage!.bucket, r)]));
  }
  if (wanted('containers')) {
    for (const host of topology.hosts) checks.push(probeHostContainers(host, topology));
  }

  const report = summarize((await Promise.all(checks)).flat(), workflowInfo().runStartTime);
  log.info('health check finished', {
    overall: report.overall,
    ...report.counts,
    problems: report.components.filter((c) => c.status !== 'up').map((c) => `${c.kind} ${c.target}: ${c.reason}`),
  });
  return report;
}

async function probeHttp(kind: ComponentKind, target: string, url: string, timeoutMs: number) {
  return component(kind, target, await shared.probeHttp({ url, timeoutMs }));
}

async function probePostgres(
  postgres: NonNullable<TopologyView['postgres']>,
  thresholds: TopologyView['thresholds'],
): Promise<ComponentHealth[]> {
  const probes = await Promise.all(postgres.nodes.map((node) => shared.probePostgresNode(node.name)));
  const primaryIndex = postgres.nodes.findIndex((n) => n.role === 'primary');
  const primary: PostgresProbeResult | undefined = probes[primaryIndex];
  return postgres.nodes.map((node, i) => {
    const probed = judgePostgresConnections(component(ComponentKind.postgres, node.name, probes[i]), thresholds);
    return node.role === 'replica' ? judgeReplicaLag(probed, primary, postgres.maxLagBytes) : probed;
  });
}

/** Asks the host's own worker for its containers and compares them with the instances placed there. */
async function probeHostContainers(
  host: TopologyView['hosts'][number],
  topology: TopologyView,
): Promise<ComponentHealth[]> {
  const onHost = proxyActivities<HostActivities>({ ...ActivityPresets.hostProbe, taskQueue: host.taskQueue });
  const expected = topology.instances.filter((i) => i.host === host.name);
  let report;
  try {
    report = await onHost.inspectHostContainers(host.name);
  } catch (err) {
    const reason = isScheduleToStartTimeout(err)
      ? `no worker serves task queue ${host.taskQueue}: start one on host ${host.name}`
      : `could not inspect containers: ${(err as Error).message}`;
    const down = { status: 'down', latencyMs: 0, reason, detail: {} } as const;
    return [
      component(ComponentKind.docker, host.name, down),
      ...expected.map((i) => component(ComponentKind.container, i.containerName, down)),
    ];
  }
  const results = [component(ComponentKind.docker, host.name, report.engine)];
  for (const instance of expected) {
    const found = report.containers.find((c) => c.name === instance.containerName);
    const status = found?.state === 'running' ? 'up' : 'down';
    results.push(
      component(ComponentKind.container, instance.containerName, {
        status: report.engine.status === 'down' ? 'down' : status,
        latencyMs: report.engine.latencyMs,
        reason:
          report.engine.status === 'down'
            ? `Docker engine unreachable: ${report.engine.reason}`
            : !found
              ? `container ${instance.containerName} does not exist on ${host.name}`
              : status === 'down'
                ? `container is ${found.state} (${found.status})`
                : undefined,
        detail: found ? { state: found.state, image: found.image } : {},
      }),
    );
  }
  return results;
}

function isScheduleToStartTimeout(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure && err.cause.timeoutType === TimeoutType.SCHEDULE_TO_START;
}

function component(kind: ComponentKind, target: string, result: ProbeResult): ComponentHealth {
  const { status, latencyMs, reason, detail } = result;
  return { kind, target, status, latencyMs, detail, ...(reason ? { reason } : {}) };
}
