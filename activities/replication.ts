import { ApplicationFailure } from '@temporalio/activity';
import type { Client } from 'pg';
import { ErrorType } from '../workflows/error-types';
import type { ActivityDeps } from './deps';
import { compareLsn } from '../workflows/lsn';
import { withProgressHeartbeat } from './heartbeat';
import { connectToNode, findPostgresNode } from './postgres-connection';

/** What a switchover must know about a primary and the replica it would hand over to. */
export interface ReplicationState {
  primary: string;
  replica: string;
  /** The replica answers and is in recovery. */
  replicaInRecovery: boolean;
  /** The primary lists the replica as streaming. */
  streaming: boolean;
  /** Bytes of WAL the replica has not replayed yet, as the primary sees it; null when not streaming. */
  lagBytes: number | null;
  /** Base backups running on the primary (pg_basebackup, or a tego-ops base backup). */
  backupsInProgress: number;
  primaryLsn: string;
}

/** A promoted node, and proof it left recovery on a new timeline. */
export interface PromotionResult {
  node: string;
  timelineBefore: number;
  timelineAfter: number;
  /** Whether this call promoted it (false: an earlier attempt already had). */
  promoted: boolean;
  /** Its last replayed commit, the newest data it carried over (ISO), when known. */
  lastReplayedCommitAt: string | null;
}


/**
 * The replication steps of a switchover or failover, on the servers themselves: read the state, stop
 * writes on a primary, wait for a replica to catch up, promote it. Each is safe to run twice.
 */
export function createReplicationActivities(deps: ActivityDeps) {
  const onNode = async <T>(nodeName: string, work: (db: Client) => Promise<T>, database = 'postgres'): Promise<T> => {
    // Heartbeats while it works: under the replication preset, their absence is how a dead worker is noticed.
    return withProgressHeartbeat(
      () => ({ node: nodeName }),
      async () => {
        const db = await connectToNode(deps, findPostgresNode(deps.inventory, nodeName), { database, timeoutMs: 5000 });
        try {
          return await work(db);
        } finally {
          await db.end();
        }
      },
      2000,
    );
  };

  return {
    /** The facts a switchover's preconditions are judged on, read from both servers. */
    async replicationState({ primary, replica }: { primary: string; replica: string }): Promise<ReplicationState> {
      const replicaInRecovery = await onNode(replica, async (db) => (await db.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r')).rows[0].r).catch(() => false);
      return onNode(primary, async (db) => {
        const { rows } = await db.query<{ lsn: string; state: string | null; lag: string | null; backups: number }>(
          `SELECT pg_current_wal_lsn()::text AS lsn,
                  (SELECT state FROM pg_stat_replication WHERE application_name = $1 ORDER BY backend_start DESC LIMIT 1) AS state,
                  (SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication
                    WHERE application_name = $1 ORDER BY backend_start DESC LIMIT 1) AS lag,
                  (SELECT count(*)::int FROM pg_stat_progress_basebackup) AS backups`,
          [replica],
        );
        const row = rows[0];
        return {
          primary,
          replica,
          replicaInRecovery,
          streaming: row.state === 'streaming',
          lagBytes: row.lag === null ? null : Number(row.lag),
          backupsInProgress: row.backups,
          primaryLsn: row.lsn,
        };
      });
    },

    /**
     * Makes a primary refuse writes: new transactions default to read-only (set with ALTER SYSTEM, so it
     * holds for every new session), then every client session but this one is ended and waited for.
     */
    async stopWritesOnPrimary({ node }: { node: string }): Promise<{ sessionsEnded: number }> {
      return onNode(node, async (db) => {
        await db.query('ALTER SYSTEM SET default_transaction_read_only = on');
        await db.query('SELECT pg_reload_conf()');
        // Sessions read the reloaded setting only between commands; ending them closes that gap.
        const ended = await db.query<{ ended: boolean }>(
          `SELECT pg_terminate_backend(pid, 5000) AS ended FROM pg_stat_activity
            WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()`,
        );
        return { sessionsEnded: ended.rowCount ?? 0 };
      });
    },

    /** Lets a primary take writes again (the undo of stopWritesOnPrimary). A node that is down is left as it is. */
    async allowWritesOnPrimary({ node }: { node: string }): Promise<void> {
      await onNode(node, async (db) => {
        await db.query('ALTER SYSTEM RESET default_transaction_read_only');
        await db.query('SELECT pg_reload_conf()');
      });
    },

    /**
     * A gate: returns once `replica` has replayed WAL up to `lsn`; throws (retryably) until then.
     * @throws ApplicationFailure `NotCaughtUpYet` (retryable) while it is behind
     */
    async requireReplayed({ replica, lsn }: { replica: string; lsn: string }): Promise<{ replayLsn: string }> {
      const replayLsn = await onNode(replica, async (db) => (await db.query<{ lsn: string | null }>('SELECT pg_last_wal_replay_lsn()::text AS lsn')).rows[0].lsn);
      if (replayLsn === null || compareLsn(replayLsn, lsn) < 0) {
        throw ApplicationFailure.retryable(`${replica} has replayed to ${replayLsn ?? 'nothing'}, not yet ${lsn}`, ErrorType.NotCaughtUpYet);
      }
      return { replayLsn };
    },

    /**
     * Promotes a replica (`pg_promote`, waiting for it to finish) and proves it: out of recovery, on a
     * timeline after the one it replayed. Clears a read-only default it may carry from an earlier fence.
     * Already promoted: reports its timeline and changes nothing.
     */
    async promoteReplica({ node }: { node: string }): Promise<PromotionResult> {
      return onNode(node, async (db) => {
        const before = await db.query<{ in_recovery: boolean; timeline: number; replayed_at: Date | null }>(
          `SELECT pg_is_in_recovery() AS in_recovery,
                  coalesce((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint())) AS timeline,
                  pg_last_xact_replay_timestamp() AS replayed_at`,
        );
        const { in_recovery: inRecovery, timeline: timelineBefore, replayed_at: replayedAt } = before.rows[0];
        if (inRecovery) {
          const done = await db.query<{ promoted: boolean }>('SELECT pg_promote(true, 60) AS promoted');
          if (!done.rows[0].promoted) throw new Error(`${node} did not finish promotion within 60 s`);
        }
        await db.query('ALTER SYSTEM RESET default_transaction_read_only');
        await db.query('SELECT pg_reload_conf()');
        const after = await db.query<{ in_recovery: boolean; timeline: string }>(
          `SELECT pg_is_in_recovery() AS in_recovery, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS timeline`,
        );
        const timelineAfter = parseInt(after.rows[0].timeline, 16);
        if (after.rows[0].in_recovery || (inRecovery && timelineAfter <= timelineBefore)) {
          throw ApplicationFailure.nonRetryable(
            `${node} did not come out of recovery on a new timeline (timeline ${timelineBefore} before, ${timelineAfter} after)`,
            ErrorType.PromotionFailed,
          );
        }
        return { node, timelineBefore, timelineAfter, promoted: inRecovery, lastReplayedCommitAt: replayedAt?.toISOString() ?? null };
      });
    },

    /** The WAL position a replica has received (and flushed), for a failover's loss estimate. */
    async receivedLsn({ node }: { node: string }): Promise<{ receivedLsn: string | null; inRecovery: boolean }> {
      return onNode(node, async (db) => {
        const { rows } = await db.query<{ lsn: string | null; in_recovery: boolean }>(
          `SELECT coalesce(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::text AS lsn, pg_is_in_recovery() AS in_recovery`,
        );
        return { receivedLsn: rows[0].lsn, inRecovery: rows[0].in_recovery };
      });
    },

    /**
     * A gate: returns once `primary` lists `replica` as streaming.
     * @throws ApplicationFailure `NotCaughtUpYet` (retryable) until it does
     */
    async requireStreaming({ primary, replica }: { primary: string; replica: string }): Promise<{ lagBytes: number }> {
      const rows = await onNode(primary, async (db) =>
        (
          await db.query<{ lag: string }>(
            `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag FROM pg_stat_replication
              WHERE application_name = $1 AND state = 'streaming'`,
            [replica],
          )
        ).rows,
      );
      if (rows.length === 0) throw ApplicationFailure.retryable(`${replica} is not streaming from ${primary} yet`, ErrorType.NotCaughtUpYet);
      return { lagBytes: Number(rows[0].lag ?? 0) };
    },

    /**
     * Rewrites the roles of the PostgreSQL nodes in the inventory file this worker reads, so every later
     * activity, and every container recreated from the inventory, uses the new primary.
     */
    async setPostgresRoles(roles: { primary: string; fenced: string[] }): Promise<{ changed: boolean }> {
      if (!deps.inventoryFile) {
        throw ApplicationFailure.nonRetryable('this worker was not started from an inventory file, so it cannot record the new roles', ErrorType.UnknownTarget);
      }
      return deps.inventoryFile.setPostgresRoles(roles);
    },
  };
}
