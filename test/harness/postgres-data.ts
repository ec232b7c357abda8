import { Client } from 'pg';
import type { SandboxState } from './sandbox';
import { SecretEnv } from './sandbox-inventory';

export function primaryClient(sandbox: SandboxState, database = 'tego_engine'): Client {
  return new Client({
    host: '127.0.0.1',
    port: sandbox.portBase + 10,
    user: 'postgres',
    password: sandbox.env[SecretEnv.postgresPassword],
    database,
  });
}

/**
 * A database large enough that a dump takes seconds, so a fault can be injected while it streams.
 * Rows carry md5 text, which compresses about as well as real application data. Created once.
 */
export async function ensureBulkDatabase(sandbox: SandboxState, name: string, rows: number): Promise<void> {
  const admin = primaryClient(sandbox, 'postgres');
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (exists.rowCount) return;
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const db = primaryClient(sandbox, name);
  await db.connect();
  try {
    await db.query(`
      CREATE TABLE events (id bigint PRIMARY KEY, workflow_id bigint NOT NULL, payload text NOT NULL, created_at timestamptz NOT NULL);
      INSERT INTO events
        SELECT g, g % 5000, md5(g::text) || md5((g * 7)::text) || md5((g * 13)::text) || md5((g * 31)::text),
               '2026-01-01'::timestamptz + g * interval '1 second'
          FROM generate_series(1, ${rows}) g;
    `);
  } finally {
    await db.end();
  }
}

/** Runs one query on the sandbox's primary, in `database`, and returns its rows. */
export async function queryPrimary<T extends object>(sandbox: SandboxState, query: string, database = 'tego_engine'): Promise<T[]> {
  const db = primaryClient(sandbox, database);
  await db.connect();
  try {
    return (await db.query<T>(query)).rows;
  } finally {
    await db.end();
  }
}

/** Bytes a database takes on disk. */
export async function databaseSize(sandbox: SandboxState, database: string): Promise<number> {
  const [{ size }] = await queryPrimary<{ size: string }>(sandbox, 'SELECT pg_database_size(current_database()) AS size', database);
  return Number(size);
}
