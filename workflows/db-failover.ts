import { ApplicationFailure, proxyActivities, sleep } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import { compareLsn } from './lsn';
import { ActivityPresets } from './activity-options';
import { runChange } from './change-control';
import { clusterOf, repointApps, replication, requireManagedServers, type Cluster, type ClusterNode } from './db-cluster';
import { ErrorType } from './error-types';
import { rootMessage } from './failures';
import { formatBytes } from './health-report';
import { DbFailoverInputSchema, type DbFailoverInput } from './inputs';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface FailoverReport {
  failedPrimary: string;
  newPrimary: string;
  /** How the primary was found down: probes, the period they spanned, what the last one said. */
  detection: { probes: number; periodSeconds: number; lastReason: string };
  /** What the promoted replica lacks of the failed primary's WAL; null when the old primary's disk could not be read. */
  dataLoss: { bytes: number | null; primaryWalEnd: string | null; replicaReceived: string; lastReplayedCommitAt: string | null };
  /** Whether the old primary is fenced (stopped, made to start read-only, marked in the inventory). */
  fenced: { onDisk: boolean; reason?: string };
  timeline: { before: number; after: number };
  appsRepointed: string[];
  /** From the first probe that found the primary down to every app healthy on the new one. */
  timeToRecoverySeconds: number;
  forced: boolean;
}

/**
 * Unplanned failover (the guide's 数据库故障恢复 when the primary is gone): confirm the primary is really
 * down over several probes, measure what the best replica lacks of the failed primary's WAL and refuse
 * over `maxLagBytes` unless forced, fence the old primary (stopped, `standby.signal` on its disk, marked
 * fenced in the inventory) so it can never again take writes beside the new one, promote the replica,
 * repoint the apps and wait until they are healthy. The result and the change record carry the data loss
 * and the time to recovery. A fenced node returns with `db-rejoin`.
 * @throws ApplicationFailure `PreconditionFailed` when the primary answers, or the loss is over the limit or unknown without `force`
 */
export async function dbFailoverWorkflow(input: DbFailoverInput = {}): Promise<FailoverReport> {
  const { replica: requested, probes, probeInterval, force, ...options } = parseInput(DbFailoverInputSchema, input);
  const cluster = clusterOf(await probe.describeTopology());
  const failed = cluster.primary;

  const detectedAt = Date.now();
  let lastReason = '';
  for (let i = 1; i <= probes; i++) {
    const result = await probe.probePostgresNode(failed.name);
    if (result.status !== 'down') {
      throw ApplicationFailure.nonRetryable(`${failed.name} answered on probe ${i} of ${probes}: it is not down, so there is no failover`, ErrorType.PreconditionFailed);
    }
    lastReason = result.reason ?? 'down';
    if (i < probes) await sleep(probeInterval);
  }
  const detection = { probes, periodSeconds: (Date.now() - detectedAt) / 1000, lastReason };

  const promoted = requested ? cluster.node(requested) : await mostAdvancedReplica(cluster);
  if (promoted.role !== 'replica' || promoted.fenced) {
    throw ApplicationFailure.nonRetryable(`${promoted.name} is ${promoted.fenced ? 'fenced' : 'the primary'}; promote a replica in service`, ErrorType.PreconditionFailed);
  }
  requireManagedServers(promoted);
  const loss = await estimateLoss(cluster, failed, promoted);
  const lossProblem =
    loss.bytes === null
      ? `what ${promoted.name} lacks is unknown: ${failed.name}'s WAL could not be read (${loss.why})`
      : loss.bytes > cluster.maxLagBytes
        ? `${promoted.name} lacks ${formatBytes(loss.bytes)} of ${failed.name}'s WAL (received ${loss.replicaReceived}, the primary's WAL ends at ${loss.primaryWalEnd}), over maxLagBytes ${formatBytes(cluster.maxLagBytes)}`
        : null;
  if (lossProblem && !force) {
    throw ApplicationFailure.nonRetryable(`failover to ${promoted.name} refused, nothing changed: ${lossProblem}; start it with force to promote anyway and lose that data`, ErrorType.PreconditionFailed);
  }

  return runChange(
    { kind: 'db-failover', target: `postgres:${failed.name}`, input, options, recordAtEnd: true },
    async (change) => {
      // The approval may have taken a while: a primary that came back needs no failover.
      await change.check(`${failed.name} is still down`, async () => {
        const again = await probe.probePostgresNode(failed.name);
        if (again.status !== 'down') throw ApplicationFailure.nonRetryable(`${failed.name} is answering again; no failover`, ErrorType.PreconditionFailed);
      });
      // No undo for any step: there is no primary to go back to.
      const fenced = await change
        .step(`fence ${failed.name}`, () =>
          cluster.onHostOf(failed).fenceServer({ node: failed.name, newPrimary: promoted.name, reason: `failed over to ${promoted.name}: ${lastReason}` }),
        )
        .then(
          (): FailoverReport['fenced'] => ({ onDisk: true }),
          (err: unknown): FailoverReport['fenced'] => {
            if (!force) throw err;
            return { onDisk: false, reason: rootMessage(err) };
          },
        );
      const promotion = await change.step(`promote ${promoted.name}`, () => replication.promoteReplica({ node: promoted.name }), undefined, (p) => `timeline ${p.timelineBefore} → ${p.timelineAfter}`);
      await change.step(`record ${promoted.name} as primary and ${failed.name} as fenced in the inventory`, () =>
        replication.setPostgresRoles({ primary: promoted.name, fenced: [failed.name] }),
      );
      const appsRepointed = await repointApps(change, cluster, promoted.name);
      return {
        failedPrimary: failed.name,
        newPrimary: promoted.name,
        detection,
        dataLoss: { bytes: loss.bytes, primaryWalEnd: loss.primaryWalEnd, replicaReceived: loss.replicaReceived, lastReplayedCommitAt: promotion.lastReplayedCommitAt },
        fenced,
        timeline: { before: promotion.timelineBefore, after: promotion.timelineAfter },
        appsRepointed,
        timeToRecoverySeconds: (Date.now() - detectedAt) / 1000,
        forced: force,
      };
    },
    (r) =>
      `${r.newPrimary} promoted (timeline ${r.timeline.after}) in place of ${r.failedPrimary}; data lost: ${r.dataLoss.bytes === null ? 'unknown' : `${r.dataLoss.bytes} bytes`}; ` +
      `recovered in ${r.timeToRecoverySeconds.toFixed(1)} s; ${r.failedPrimary} ${r.fenced.onDisk ? 'fenced' : `NOT fenced on disk (${r.fenced.reason})`}`,
  );
}

/** Of the replicas in service that answer, the one that received the most WAL. */
async function mostAdvancedReplica(cluster: Cluster): Promise<ClusterNode> {
  const candidates = cluster.replicas.filter((r) => !r.fenced);
  const received = await Promise.all(
    candidates.map(async (r) => ({ node: r, state: await replication.receivedLsn({ node: r.name }).catch(() => null) })),
  );
  const usable = received.filter((r) => r.state?.inRecovery && r.state.receivedLsn);
  if (usable.length === 0) throw ApplicationFailure.nonRetryable(`no replica in service answers (${candidates.map((c) => c.name).join(', ') || 'none'})`, ErrorType.PreconditionFailed);
  usable.sort((a, b) => compareLsn(b.state!.receivedLsn!, a.state!.receivedLsn!));
  return usable[0].node;
}

/** The failed primary's WAL end (read from its disk, when its host's worker answers) against what the replica received. */
async function estimateLoss(cluster: Cluster, failed: ClusterNode, promoted: ClusterNode) {
  const { receivedLsn } = await replication.receivedLsn({ node: promoted.name });
  const replicaReceived = receivedLsn ?? '0/0';
  const failedHost = proxyActivities<HostActivities>({ ...ActivityPresets.hostProbe, taskQueue: failed.taskQueue, retry: { maximumAttempts: 2 } });
  try {
    const { walEnd } = await failedHost.walEndOfStoppedServer({ node: failed.name });
    return { bytes: Math.max(0, compareLsn(walEnd, replicaReceived)), primaryWalEnd: walEnd, replicaReceived, why: '' };
  } catch (err) {
    return { bytes: null, primaryWalEnd: null, replicaReceived, why: rootMessage(err) };
  }
}
