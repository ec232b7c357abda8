import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { RejoinResult } from '../activities/postgres-server';
import type { ReplicationState } from '../activities/replication';
import { ActivityPresets } from './activity-options';
import { runChange } from './change-control';
import { catchUp, clusterOf, rejoinAsReplica, repointApps, replication, requireManagedServers, type Cluster, type ClusterNode } from './db-cluster';
import { ErrorType } from './error-types';
import { formatBytes } from './health-report';
import { DbSwitchoverInputSchema, type DbSwitchoverInput } from './inputs';
import { parseInput } from './validate-input';
import { beginRun } from './run-labels';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface SwitchoverReport {
  dryRun: boolean;
  from: string;
  to: string;
  /** What the preconditions were judged on, right before acting. */
  state: ReplicationState;
  /** The steps it takes (a dry run) or took. */
  plan: string[];
  /** Where the stopped old primary's WAL ends; the replica replayed up to it before it was promoted. */
  finalLsn?: string;
  timeline?: { before: number; after: number };
  appsRepointed?: string[];
  /** The old primary, now a replica of the new one — or why it is not (the switchover itself stands). */
  oldPrimary?: ({ rejoined: true } & RejoinResult) | { rejoined: false; reason: string };
}

/**
 * The guide's 数据库故障恢复 done as a planned switchover with no data loss: stop the apps that write,
 * make the primary refuse writes and end its sessions, stop it cleanly, wait until the replica has
 * replayed all of its WAL, promote the replica (proved: out of recovery, on a new timeline), write
 * the new roles into the inventory, recreate the apps pointed at the new primary and wait until they are
 * healthy; then bring the old primary back as a replica of the new one.
 * Preconditions — the replica streams, its lag is under `maxLagBytes`, no base backup is running — are
 * checked before the approval and again right before acting. If promotion or repointing fails, the
 * compensation puts the apps back on the old primary, which takes writes again, and rejoins the replica to it.
 * @throws ApplicationFailure `PreconditionFailed` when a precondition does not hold (nothing changed)
 */
export async function dbSwitchoverWorkflow(input: DbSwitchoverInput = {}): Promise<SwitchoverReport> {
  const { replica: requested, dryRun, ...options } = parseInput(DbSwitchoverInputSchema, input);
  const cluster = clusterOf(await probe.describeTopology());
  const from = cluster.primary;
  const to = requested ? cluster.node(requested) : await chooseReplica(cluster);
  if (to.role !== 'replica' || to.fenced) {
    throw ApplicationFailure.nonRetryable(`${to.name} is ${to.fenced ? 'fenced' : 'the primary'}; switch over to a replica in service`, ErrorType.PreconditionFailed);
  }
  requireManagedServers(from, to);
  const preconditions = () => checkPreconditions(cluster, from, to);
  const plan = [
    ...cluster.apps.map((a) => `stop ${a.containerName}`),
    `stop writes on ${from.name} and end its sessions`,
    `stop ${from.name} cleanly`,
    `wait until ${to.name} has replayed all of ${from.name}'s WAL`,
    `promote ${to.name} and check it is on a new timeline`,
    `record ${to.name} as primary in the inventory`,
    ...cluster.apps.map((a) => `point ${a.containerName} at ${to.name} and wait until it is healthy`),
    `rejoin ${from.name} as a replica of ${to.name}`,
  ];

  if (dryRun) {
    const log = beginRun({ kind: 'db-switchover', target: `postgres:${from.name}`, requestedBy: options.requestedBy, summary: 'dry run' });
    const state = await log.step('check the preconditions', preconditions);
    return { dryRun: true, from: from.name, to: to.name, state, plan };
  }
  await preconditions();

  return runChange(
    { kind: 'db-switchover', target: `postgres:${from.name}`, input, options },
    async (change) => {
      const state = await change.check('check the preconditions again, right before acting', preconditions, describeState);
      const oldPrimary = cluster.onHostOf(from);
      for (const app of cluster.apps) {
        const docker = cluster.dockerOn(app.host);
        await change.step(
          `stop ${app.containerName}`,
          () => docker.stopContainer({ host: app.host, container: app.containerName, stopTimeoutSeconds: 30 }),
          () => docker.startContainer({ host: app.host, container: app.containerName }),
        );
      }
      await change.step(
        `stop writes on ${from.name} and end its sessions`,
        () => replication.stopWritesOnPrimary({ node: from.name }),
        () => replication.allowWritesOnPrimary({ node: from.name }),
        (r) => `${r.sessionsEnded} sessions ended`,
      );
      // A clean stop sends the replica everything, up to the shutdown checkpoint; where the stopped
      // server's WAL ends is then exactly what the replica must have replayed: nothing can come after it.
      await change.step(
        `stop ${from.name}`,
        () => oldPrimary.stopServer({ node: from.name, mode: 'fast' }),
        () => oldPrimary.startServer({ node: from.name }),
      );
      const { walEnd: finalLsn } = await change.check(`read where ${from.name}'s WAL ends`, () => oldPrimary.walEndOfStoppedServer({ node: from.name }), (r) => r.walEnd);
      await change.check(`wait until ${to.name} has replayed up to ${finalLsn}`, () => catchUp.requireReplayed({ replica: to.name, lsn: finalLsn }));
      const promotion = await change.step(
        `promote ${to.name}`,
        () => replication.promoteReplica({ node: to.name }),
        // Back to the old primary: it starts and takes writes again, and the replica follows it (rewound if it diverged).
        async () => {
          await oldPrimary.startServer({ node: from.name });
          await replication.allowWritesOnPrimary({ node: from.name });
          await rejoinAsReplica(cluster, to, from);
        },
        (p) => `timeline ${p.timelineBefore} → ${p.timelineAfter}`,
      );
      await change.step(
        `record ${to.name} as primary in the inventory`,
        () => replication.setPostgresRoles({ primary: to.name, fenced: [] }),
        () => replication.setPostgresRoles({ primary: from.name, fenced: [] }),
      );
      const appsRepointed = await repointApps(change, cluster, to.name, from.name);
      // Not undone if it fails: the apps already write to the new primary. It is reported, for a db-rejoin.
      const rejoin = await change
        .check(`rejoin ${from.name} as a replica of ${to.name}`, () => rejoinAsReplica(cluster, from, to))
        .then(
          (r) => ({ rejoined: true as const, method: r.method, ...(r.rewindProblem ? { rewindProblem: r.rewindProblem } : {}) }),
          (err: Error) => ({ rejoined: false as const, reason: err.message }),
        );
      return {
        dryRun: false,
        from: from.name,
        to: to.name,
        state,
        plan,
        finalLsn,
        timeline: { before: promotion.timelineBefore, after: promotion.timelineAfter },
        appsRepointed,
        oldPrimary: rejoin,
      };
    },
    (r) =>
      `${r.to} is primary (timeline ${r.timeline?.after}), ${r.from} ${r.oldPrimary?.rejoined ? 'streams from it' : `NOT rejoined: ${r.oldPrimary && 'reason' in r.oldPrimary ? r.oldPrimary.reason : ''}`}; ` +
      `${r.appsRepointed?.length ?? 0} apps repointed`,
  );
}

/**
 * The target replica streams, is within `maxLagBytes`, and no base backup is running.
 * @throws ApplicationFailure `PreconditionFailed` saying which does not hold, with the figures
 */
async function checkPreconditions(cluster: Cluster, from: ClusterNode, to: ClusterNode): Promise<ReplicationState> {
  const state = await replication.replicationState({ primary: from.name, replica: to.name });
  const problems: string[] = [];
  if (!state.replicaInRecovery) problems.push(`${to.name} is not in recovery (not a replica, or not reachable)`);
  if (!state.streaming) problems.push(`${to.name} is not streaming from ${from.name}`);
  else if (state.lagBytes !== null && state.lagBytes > cluster.maxLagBytes) {
    problems.push(`${to.name} lags ${formatBytes(state.lagBytes)} behind ${from.name}, over maxLagBytes ${formatBytes(cluster.maxLagBytes)}`);
  }
  if (state.backupsInProgress > 0) problems.push(`${state.backupsInProgress} base backup(s) running on ${from.name}; wait until they finish`);
  if (problems.length > 0) {
    throw ApplicationFailure.nonRetryable(`switchover ${from.name} → ${to.name} refused, nothing changed: ${problems.join('; ')}`, ErrorType.PreconditionFailed);
  }
  return state;
}

/** The only replica in service, or of several the one with the least lag. */
async function chooseReplica(cluster: Cluster): Promise<ClusterNode> {
  const candidates = cluster.replicas.filter((r) => !r.fenced);
  if (candidates.length === 0) throw ApplicationFailure.nonRetryable('no replica in service to switch over to', ErrorType.PreconditionFailed);
  if (candidates.length === 1) return candidates[0];
  const states = await Promise.all(candidates.map((r) => replication.replicationState({ primary: cluster.primary.name, replica: r.name })));
  const streaming = states.filter((s) => s.streaming).sort((a, b) => (a.lagBytes ?? Infinity) - (b.lagBytes ?? Infinity));
  if (streaming.length === 0) throw ApplicationFailure.nonRetryable(`no replica streams from ${cluster.primary.name}`, ErrorType.PreconditionFailed);
  return cluster.node(streaming[0].replica);
}

function describeState(s: ReplicationState): string {
  return `${s.replica} streaming, ${s.lagBytes ?? 0} bytes behind; no base backup running`;
}
