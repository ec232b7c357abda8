import type { ActivityOptions } from '@temporalio/workflow';

/** Named option presets for proxied activities, so every workflow times and retries the same way. */
export const ActivityPresets = {
  /** Quick reads (inventory, probes). Probes report "down" themselves; retries cover worker loss. */
  probe: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
  },
  /**
   * The health patrol's probes: each is bounded by its own timeouts (HTTP 2 s, PostgreSQL and Redis 3 s), so
   * one running longer than this is on a worker that died, and the patrol, due again in 30 s, moves on.
   */
  patrol: {
    startToCloseTimeout: '10 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 2 },
  },
  /**
   * Probes on a host's own queue: if no worker serves that host, say so after a bound instead of
   * waiting forever for one to appear.
   */
  hostProbe: {
    scheduleToStartTimeout: '15 seconds',
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
  },
  /**
   * Long streaming transfers (dumps, uploads, downloads). They heartbeat progress, so a dead worker
   * is noticed within the heartbeat timeout and the transfer restarts cleanly on another.
   * Retries back off to a minute: a storage outage of minutes is ridden out.
   */
  transfer: {
    startToCloseTimeout: '6 hours',
    heartbeatTimeout: '30 seconds',
    retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 10 },
  },
  /** Small object-store operations (manifests, listings, deletes). */
  storage: {
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 20 },
  },
  /**
   * Change-record writes. A change is not begun unrecorded: if the database stays unreachable for ten
   * minutes the workflow fails before its first step (or, at the end, reports the record it could not write).
   */
  record: {
    startToCloseTimeout: '30 seconds',
    scheduleToCloseTimeout: '10 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
  },
  /** Administrative statements on the primary (create, rename, drop a database): quick, retried for minutes. */
  databaseAdmin: {
    startToCloseTimeout: '2 minutes',
    scheduleToCloseTimeout: '15 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
  },
  /**
   * The replication steps of a switchover or failover (stop writes, promote, record roles). Every statement
   * is bounded (5 s), and they heartbeat while connected, so a worker that dies mid-step is noticed in
   * 10 s, not at a start-to-close of minutes: after a promotion that wait is an outage, the apps still
   * pointing at the stopped old primary until they are repointed.
   */
  replication: {
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: '10 seconds',
    scheduleToCloseTimeout: '15 minutes',
    retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
  },
  /**
   * Health gates: the activity throws NotHealthyYet until the target answers, and these retries are the
   * wait, with schedule-to-close as its deadline (set per call from the service's own timeout).
   */
  healthGate: {
    startToCloseTimeout: '15 seconds',
    scheduleToCloseTimeout: '2 minutes',
    retry: { initialInterval: '1 second', backoffCoefficient: 1.5, maximumInterval: '5 seconds' },
  },
} as const satisfies Record<string, ActivityOptions>;
