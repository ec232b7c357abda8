import type { Client } from 'pg';
import type { BackupManifest } from '../inventory/backup-catalog';
import type { ActivityDeps } from './deps';
import type { AssertionResult } from './scratch-instances';
import { withProgressHeartbeat } from './heartbeat';
import { countRows } from './postgres-backup';
import { connectToNode, postgresSettings } from './postgres-connection';
import { streamRestore } from './restore-stream';

/**
 * A production restore that can be undone: the dump goes into a new database beside the live one, is
 * checked there, and only then swapped in by renaming — the live database is kept under another name,
 * so undoing the swap is two renames, instant and lossless. Every activity here is idempotent: it looks
 * at what exists and does only what is missing.
 */

export interface DatabaseSwap {
  /** The database the apps use, e.g. tego_engine. */
  live: string;
  /** The freshly restored copy, swapped in as `live`. */
  replacement: string;
  /** What the previous `live` is renamed to, kept until someone drops it. */
  keepAs: string;
}

export function createDatabaseRestoreActivities(deps: ActivityDeps) {
  /** Works on the primary through its maintenance database: one cannot rename the database one is in. */
  const onPrimary = async <T>(work: (db: Client) => Promise<T>, database = 'postgres'): Promise<T> => {
    const primary = postgresSettings(deps.inventory).nodes.find((n) => n.role === 'primary')!;
    const db = await connectToNode(deps, primary, { database, timeoutMs: 30_000 });
    try {
      return await work(db);
    } finally {
      await db.end();
    }
  };
  const exists = async (db: Client, name: string) =>
    (await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  const rename = async (db: Client, from: string, to: string) => {
    // Sessions on the database would block the rename; the apps are stopped, stragglers are ended.
    await db.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [from]);
    await db.query(`ALTER DATABASE ${ident(from)} RENAME TO ${ident(to)}`);
  };

  return {
    /** Restores a dump into a new, empty database `database` on the primary (replacing one a dead attempt left). */
    async restoreDumpIntoNewDatabase({ manifest, database }: { manifest: BackupManifest; database: string }): Promise<{ bytesRead: number }> {
      await onPrimary(async (db) => {
        await db.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`);
        await db.query(`CREATE DATABASE ${ident(database)}`);
      });
      const pg = postgresSettings(deps.inventory);
      const primary = pg.nodes.find((n) => n.role === 'primary')!;
      return streamRestore(deps, manifest, {
        host: primary.address,
        port: primary.port,
        user: pg.user,
        password: deps.secret(pg.passwordEnv, 'postgres.passwordEnv'),
        database,
      });
    },

    /** Exact row count of every table of a database on the primary. */
    async countDatabaseRows({ database }: { database: string }): Promise<Record<string, number>> {
      return withProgressHeartbeat(() => ({ phase: `counting the rows of ${database}` }), () => onPrimary((db) => countRows(db), database));
    },

    /** Renames `live` to `keepAs` and `replacement` to `live`; resumes a swap cut short. */
    async swapDatabase({ live, replacement, keepAs }: DatabaseSwap): Promise<void> {
      await onPrimary(async (db) => {
        if (!(await exists(db, replacement))) {
          if ((await exists(db, keepAs)) && (await exists(db, live))) return; // done already
          throw new Error(`cannot swap in ${replacement}: it does not exist`);
        }
        if (await exists(db, live)) await rename(db, live, keepAs);
        await rename(db, replacement, live);
      });
    },

    /** Undoes swapDatabase: the kept database becomes `live` again, the restored one `replacement`. */
    async unswapDatabase({ live, replacement, keepAs }: DatabaseSwap): Promise<void> {
      await onPrimary(async (db) => {
        if (!(await exists(db, keepAs))) return; // never swapped, or undone already
        if (await exists(db, live)) await rename(db, live, replacement);
        await rename(db, keepAs, live);
      });
    },

    /** Runs `restore.assertions` written for database `assertionsOf` against `database` (a restored copy of it). */
    async runDatabaseAssertions({ database, assertionsOf }: { database: string; assertionsOf: string }): Promise<AssertionResult[]> {
      const pg = postgresSettings(deps.inventory);
      const mine = deps.inventory.restore.assertions.filter((a) => (a.database ?? pg.database) === assertionsOf);
      return withProgressHeartbeat(
        () => ({ phase: `asserting on ${database}` }),
        () =>
          onPrimary(async (db) => {
            const results: AssertionResult[] = [];
            for (const { sql } of mine) {
              const value = await db.query<Record<string, unknown>>(sql).then((r) => (r.rows[0] ? Object.values(r.rows[0])[0] : undefined), (err: Error) => `error: ${err.message}`);
              results.push({ database, sql, ok: value === true, value: String(value) });
            }
            return results;
          }, database),
      );
    },

    /** Drops a database if it exists, ending its sessions. */
    async dropDatabase({ database }: { database: string }): Promise<void> {
      await onPrimary((db) => db.query(`DROP DATABASE IF EXISTS ${ident(database)} WITH (FORCE)`));
    },
  };
}

function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
