import type { ActivityDeps } from './deps';
import { connectToNode, findPostgresNode } from './postgres-connection';
import { timedProbe, type ProbeResult } from './probe-result';

export interface ReplicationClient {
  /** The replica's cluster_name / application_name, which the harness and our rejoin set to its node name. */
  name: string;
  state: string;
  lagBytes: number | null;
}

export interface PostgresProbeResult extends ProbeResult {
  /** On a primary: the replicas streaming from it. */
  replication: ReplicationClient[];
}

export function createPostgresActivities(deps: ActivityDeps) {
  return {
    /**
     * Connects to one node and reports whether it is in recovery, its connections, and — on the primary —
     * each streaming replica's lag in bytes; on a replica, whether its WAL receiver is streaming.
     */
    async probePostgresNode(nodeName: string): Promise<PostgresProbeResult> {
      const node = findPostgresNode(deps.inventory, nodeName);
      let replication: ReplicationClient[] = [];
      const result = await timedProbe(async () => {
        const client = await connectToNode(deps, node, { timeoutMs: 3000 });
        try {
          const { rows } = await client.query<{
            in_recovery: boolean;
            version: string;
            connections: number;
            max_connections: number;
            timeline: number;
          }>(
            `SELECT pg_is_in_recovery() AS in_recovery,
                    current_setting('server_version') AS version,
                    (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS connections,
                    current_setting('max_connections')::int AS max_connections,
                    (SELECT timeline_id FROM pg_control_checkpoint()) AS timeline`,
          );
          const info = rows[0];
          const actualRole = info.in_recovery ? 'replica' : 'primary';
          const detail: ProbeResult['detail'] = {
            role: actualRole,
            serverVersion: info.version,
            connections: info.connections,
            maxConnections: info.max_connections,
            timeline: info.timeline,
          };
          let reason: string | undefined;
          if (info.in_recovery) {
            const receiver = await client.query<{ status: string | null; replay_delay_s: number | null }>(
              `SELECT (SELECT status FROM pg_stat_wal_receiver) AS status,
                      extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8 AS replay_delay_s`,
            );
            detail.walReceiver = receiver.rows[0].status ?? 'stopped';
            detail.replayDelaySeconds = receiver.rows[0].replay_delay_s;
            if (receiver.rows[0].status !== 'streaming') {
              reason = `replica is not streaming from the primary (WAL receiver ${detail.walReceiver})`;
            }
          } else {
            const streams = await client.query<{ name: string; state: string; lag_bytes: string | null }>(
              `SELECT application_name AS name, state,
                      pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes
                 FROM pg_stat_replication`,
            );
            replication = streams.rows.map((r) => ({
              name: r.name,
              state: r.state,
              lagBytes: r.lag_bytes === null ? null : Number(r.lag_bytes),
            }));
          }
          if (actualRole !== node.role) {
            reason = `inventory says ${node.role} but the server is a ${actualRole}`;
          }
          return { status: reason ? 'degraded' : 'up', reason, detail };
        } finally {
          await client.end();
        }
      });
      return { ...result, replication };
    },
  };
}
