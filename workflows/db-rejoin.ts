import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { RejoinResult } from '../activities/postgres-server';
import { ActivityPresets } from './activity-options';
import { runChange } from './change-control';
import { clusterOf, rejoinAsReplica, replication, requireManagedServers } from './db-cluster';
import { ErrorType } from './error-types';
import { DbRejoinInputSchema, type DbRejoinInput } from './inputs';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

export interface RejoinReport extends RejoinResult {
  node: string;
  primary: string;
  lagBytes: number;
}

/**
 * Brings a fenced former primary (or a replica that lost its way) back into service as a streaming
 * replica of the current primary: `pg_rewind` onto the primary's timeline when it diverged, its own
 * configuration kept, `primary_conninfo` and `standby.signal` set, started, streaming checked; then the
 * fence is lifted in the inventory.
 * @throws ApplicationFailure `UnknownTarget` for an unknown node; `PreconditionFailed` for the primary itself
 */
export async function dbRejoinWorkflow(input: DbRejoinInput): Promise<RejoinReport> {
  const { node: name, ...options } = parseInput(DbRejoinInputSchema, input);
  const cluster = clusterOf(await probe.describeTopology());
  const node = cluster.node(name);
  const primary = cluster.primary;
  if (node.name === primary.name) throw ApplicationFailure.nonRetryable(`${name} is the primary; rejoin a replica or a fenced node`, ErrorType.PreconditionFailed);
  requireManagedServers(node);

  return runChange(
    { kind: 'db-rejoin', target: `postgres:${name}`, input, options },
    async (change) => {
      // No undo: a replica that streams from the primary is the state every failed attempt also aims for.
      const rejoined = await change.step(`rejoin ${name} as a replica of ${primary.name}`, () => rejoinAsReplica(cluster, node, primary), undefined, (r) =>
        r.method === 'none' ? 'it had not diverged' : r.method === 'pg_rewind' ? "rewound onto the primary's timeline" : `copied afresh (pg_rewind: ${r.rewindProblem})`,
      );
      const fencedStill = cluster.replicas.filter((r) => r.fenced && r.name !== name).map((r) => r.name);
      await change.step(`lift the fence of ${name} in the inventory`, () => replication.setPostgresRoles({ primary: primary.name, fenced: fencedStill }));
      return { node: name, primary: primary.name, ...rejoined };
    },
    (r) => `${r.node} streams from ${r.primary} (${r.method})`,
  );
}
