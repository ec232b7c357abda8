import { createHash } from 'node:crypto';
import type { Client } from 'pg';
import type { ActivityDeps } from './deps';
import { connectToNode, postgresSettings } from './postgres-connection';

/**
 * The change log the guide asks for ("变更记录: 详细记录所有变更操作"): one row per run of a mutating
 * workflow in PostgreSQL (schema tego_ops, in postgres.opsDatabase on the primary), written by these
 * activities at the start, on approval and at the end. Every write is idempotent, keyed by workflow and
 * run id, so a retried activity changes nothing twice.
 */

export const ChangeOutcome = {
  succeeded: 'succeeded',
  failed: 'failed',
  compensated: 'compensated',
  rejected: 'rejected',
  cancelled: 'cancelled',
} as const;
export type ChangeOutcome = (typeof ChangeOutcome)[keyof typeof ChangeOutcome];

/** Schema migrations, applied in order, each once; a new version is appended, never edited. */
const migrations: { version: number; statements: string[] }[] = [
  {
    version: 1,
    statements: [
      `CREATE TABLE tego_ops.change_records (
         workflow_id      text NOT NULL,
         run_id           text NOT NULL,
         change_id        text NOT NULL,
         kind             text NOT NULL,
         target           text NOT NULL,
         requested_by     text NOT NULL,
         reason           text,
         approved_by      text,
         approval_comment text,
         inputs_digest    text NOT NULL,
         started_at       timestamptz NOT NULL,
         finished_at      timestamptz,
         outcome          text CHECK (outcome IN ('succeeded', 'failed', 'compensated', 'rejected', 'cancelled')),
         summary          text,
         changes          jsonb NOT NULL DEFAULT '[]',
         PRIMARY KEY (workflow_id, run_id)
       )`,
      'CREATE INDEX change_records_change_id ON tego_ops.change_records (change_id)',
      'CREATE INDEX change_records_started_at ON tego_ops.change_records (started_at DESC)',
    ],
  },
  {
    version: 2,
    statements: [
      // The incidents' audit trail: every notification, acknowledgement, remediation and resolution.
      `CREATE TABLE tego_ops.incident_events (
         incident_id text NOT NULL,
         seq         int NOT NULL,
         at          timestamptz NOT NULL,
         dedup_key   text NOT NULL,
         priority    text NOT NULL,
         event       text NOT NULL,
         actor       text,
         detail      jsonb NOT NULL DEFAULT '{}',
         PRIMARY KEY (incident_id, seq)
       )`,
      'CREATE INDEX incident_events_at ON tego_ops.incident_events (at DESC)',
      'CREATE INDEX incident_events_dedup_key ON tego_ops.incident_events (dedup_key)',
    ],
  },
];

/** One line of an incident's audit trail. `seq` orders them and makes writing them again harmless. */
export interface IncidentEvent {
  seq: number;
  at: string;
  event: string;
  actor?: string;
  detail?: Record<string, unknown>;
}

export interface ChangeStart {
  workflowId: string;
  runId: string;
  changeId: string;
  kind: string;
  target: string;
  requestedBy: string;
  reason?: string;
  /** The workflow's input; only its SHA-256 is stored. */
  input: unknown;
  startedAt: string;
}

export interface ChangeEnd {
  workflowId: string;
  runId: string;
  outcome: ChangeOutcome;
  summary: string;
  /** What was changed (and undone), step by step. */
  changes: { step: string; status: string; detail?: string }[];
  finishedAt: string;
}

export interface ChangeRecord {
  changeId: string;
  workflowId: string;
  runId: string;
  kind: string;
  target: string;
  requestedBy: string;
  reason: string | null;
  approvedBy: string | null;
  approvalComment: string | null;
  inputsDigest: string;
  startedAt: string;
  finishedAt: string | null;
  outcome: ChangeOutcome | null;
  summary: string | null;
  changes: ChangeEnd['changes'];
}

export interface ChangeQuery {
  limit: number;
  kind?: string;
  target?: string;
  changeId?: string;
}

/** SHA-256 of the input as canonical JSON (keys sorted), so equal inputs have equal digests. */
export function inputsDigest(input: unknown): string {
  const canonical = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(canonical)
      : value && typeof value === 'object'
        ? Object.fromEntries(Object.entries(value).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, canonical(v)]))
        : value;
  return createHash('sha256').update(JSON.stringify(canonical(input ?? null))).digest('hex');
}

export function createChangeRecordActivities(deps: ActivityDeps) {
  let migrated = false;
  const withDatabase = async <T>(work: (db: Client) => Promise<T>): Promise<T> => {
    const pg = postgresSettings(deps.inventory);
    const primary = pg.nodes.find((n) => n.role === 'primary')!;
    if (!migrated) await createDatabaseIfMissing(await connectToNode(deps, primary, { database: 'postgres', timeoutMs: 10_000 }), pg.opsDatabase);
    const db = await connectToNode(deps, primary, { database: pg.opsDatabase, timeoutMs: 10_000 });
    try {
      if (!migrated) await migrate(db);
      migrated = true;
      return await work(db);
    } finally {
      await db.end();
    }
  };

  return {
    /** Opens the record of a change when its workflow starts. A retry finds it there and leaves it. */
    async recordChangeStart(change: ChangeStart): Promise<void> {
      await withDatabase((db) =>
        db.query(
          `INSERT INTO tego_ops.change_records
             (workflow_id, run_id, change_id, kind, target, requested_by, reason, inputs_digest, started_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (workflow_id, run_id) DO NOTHING`,
          [change.workflowId, change.runId, change.changeId, change.kind, change.target, change.requestedBy, change.reason ?? null, inputsDigest(change.input), change.startedAt],
        ),
      );
    },

    /** Notes who approved, and why. */
    async recordChangeApproval(approval: { workflowId: string; runId: string; approvedBy: string; comment?: string }): Promise<void> {
      await withDatabase((db) =>
        db.query(
          `UPDATE tego_ops.change_records SET approved_by = $3, approval_comment = $4 WHERE workflow_id = $1 AND run_id = $2`,
          [approval.workflowId, approval.runId, approval.approvedBy, approval.comment ?? null],
        ),
      );
    },

    /** Closes the record with how the change ended. The first outcome written stands. */
    async recordChangeEnd(end: ChangeEnd): Promise<void> {
      await withDatabase((db) =>
        db.query(
          `UPDATE tego_ops.change_records
              SET outcome = $3, summary = $4, changes = $5::jsonb, finished_at = $6
            WHERE workflow_id = $1 AND run_id = $2 AND outcome IS NULL`,
          [end.workflowId, end.runId, end.outcome, end.summary, JSON.stringify(end.changes), end.finishedAt],
        ),
      );
    },

    /** Appends an incident's events; those already written (same incident and seq) are left as they are. */
    async recordIncidentEvents({ incidentId, dedupKey, priority, events }: { incidentId: string; dedupKey: string; priority: string; events: IncidentEvent[] }): Promise<void> {
      await withDatabase((db) =>
        db.query(
          `INSERT INTO tego_ops.incident_events (incident_id, seq, at, dedup_key, priority, event, actor, detail)
           SELECT $1, e.seq, e.at, $2, $3, e.event, e.actor, COALESCE(e.detail, '{}')
             FROM jsonb_to_recordset($4::jsonb) AS e(seq int, at timestamptz, event text, actor text, detail jsonb)
           ON CONFLICT (incident_id, seq) DO NOTHING`,
          [incidentId, dedupKey, priority, JSON.stringify(events)],
        ),
      );
    },

    /** An incident's audit trail (or the newest events of every incident), oldest first. */
    async listIncidentEvents({ incidentId, limit }: { incidentId?: string; limit: number }): Promise<(IncidentEvent & { incidentId: string; dedupKey: string; priority: string })[]> {
      return withDatabase(async (db) => {
        const { rows } = await db.query<Record<string, unknown>>(
          `SELECT * FROM (SELECT * FROM tego_ops.incident_events WHERE ($1::text IS NULL OR incident_id = $1)
                           ORDER BY at DESC, seq DESC LIMIT $2) newest
            ORDER BY at, seq`,
          [incidentId ?? null, limit],
        );
        return rows.map((r) => ({
          incidentId: r.incident_id as string,
          dedupKey: r.dedup_key as string,
          priority: r.priority as string,
          seq: r.seq as number,
          at: (r.at as Date).toISOString(),
          event: r.event as string,
          ...(r.actor ? { actor: r.actor as string } : {}),
          detail: r.detail as Record<string, unknown>,
        }));
      });
    },

    /** The newest change records first, optionally of one kind, target or change id. */
    async listChangeRecords(query: ChangeQuery): Promise<ChangeRecord[]> {
      return withDatabase(async (db) => {
        const { rows } = await db.query<Record<string, unknown>>(
          `SELECT * FROM tego_ops.change_records
            WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR target = $2) AND ($3::text IS NULL OR change_id = $3)
            ORDER BY started_at DESC LIMIT $4`,
          [query.kind ?? null, query.target ?? null, query.changeId ?? null, query.limit],
        );
        return rows.map(toChangeRecord);
      });
    },
  };
}

/** Creates tego-ops's own database on the primary once; ends the maintenance connection it is given. */
async function createDatabaseIfMissing(admin: Client, name: string): Promise<void> {
  try {
    if ((await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 0) {
      await admin.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((err: { code?: string }) => {
        if (err.code !== '42P04') throw err; // created meanwhile by another worker
      });
    }
  } finally {
    await admin.end();
  }
}

/** Brings the tego_ops schema up to the newest migration; concurrent workers wait on one lock. */
async function migrate(db: Client): Promise<void> {
  await db.query('BEGIN');
  try {
    await db.query(`SELECT pg_advisory_xact_lock(hashtext('tego_ops.migrations'))`);
    await db.query('CREATE SCHEMA IF NOT EXISTS tego_ops');
    await db.query(
      'CREATE TABLE IF NOT EXISTS tego_ops.schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await db.query<{ version: number }>('SELECT version FROM tego_ops.schema_migrations');
    const applied = new Set(rows.map((r) => r.version));
    for (const migration of migrations.filter((m) => !applied.has(m.version))) {
      for (const statement of migration.statements) await db.query(statement);
      await db.query('INSERT INTO tego_ops.schema_migrations (version) VALUES ($1)', [migration.version]);
    }
    await db.query('COMMIT');
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

function toChangeRecord(row: Record<string, unknown>): ChangeRecord {
  const time = (value: unknown) => (value instanceof Date ? value.toISOString() : null);
  return {
    changeId: row.change_id as string,
    workflowId: row.workflow_id as string,
    runId: row.run_id as string,
    kind: row.kind as string,
    target: row.target as string,
    requestedBy: row.requested_by as string,
    reason: row.reason as string | null,
    approvedBy: row.approved_by as string | null,
    approvalComment: row.approval_comment as string | null,
    inputsDigest: row.inputs_digest as string,
    startedAt: time(row.started_at)!,
    finishedAt: time(row.finished_at),
    outcome: row.outcome as ChangeOutcome | null,
    summary: row.summary as string | null,
    changes: row.changes as ChangeEnd['changes'],
  };
}
