import type { Client } from 'pg';
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
     * Connects to one node and reports whether it is in recovery, its connections, queries running and
     * lock waits lasting past the inventory's thresholds, and — on the primary — each streaming replica's
     * lag in bytes; on a replica, whether its WAL receiver is streaming.
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
          Object.assign(detail, await longRunning(client, deps.inventory.alerts.thresholds));
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

/**
 * The guide's 慢查询 and 锁等待: client queries running longer than `pgSlowQuerySeconds` and backends
 * waiting on a lock longer than `pgLockWaitSeconds`, with the worst of each so an alert can name it.
 */
async function longRunning(
  client: Client,
  thresholds: { pgSlowQuerySeconds: number; pgLockWaitSeconds: number },
): Promise<ProbeResult['detail']> {
  const slow = await client.query<{ pid: number; seconds: number; query: string }>(
    `SELECT pid, extract(epoch FROM now() - query_start)::float8 AS seconds, left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
       FROM pg_stat_activity
      WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()
        AND now() - query_start > make_interval(secs => $1)
      ORDER BY query_start`,
    [thresholds.pgSlowQuerySeconds],
  );
  const waits = await client.query<{ pid: number; seconds: number; blockers: number[] }>(
    `SELECT pid, extract(epoch FROM now() - waitstart)::float8 AS seconds, pg_blocking_pids(pid) AS blockers
       FROM pg_locks
      WHERE NOT granted AND waitstart IS NOT NULL AND now() - waitstart > make_interval(secs => $1)
      ORDER BY waitstart`,
    [thresholds.pgLockWaitSeconds],
  );
  const [longest] = slow.rows;
  const [longestWait] = waits.rows;
  return {
    slowQueries: slow.rowCount ?? 0,
    longestQuerySeconds: longest ? Math.round(longest.seconds) : null,
    longestQueryPid: longest?.pid ?? null,
    longestQuery: longest?.query ?? null,
    lockWaits: new Set(waits.rows.map((w) => w.pid)).size,
    longestLockWaitSeconds: longestWait ? Math.round(longestWait.seconds) : null,
    longestLockWaitPid: longestWait?.pid ?? null,
    lockBlockers: longestWait ? longestWait.blockers.join(', ') : null,
  };
}
