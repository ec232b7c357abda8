import { execFileSync } from 'node:child_process';
import { appendFile, chown, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Client } from 'pg';
import { run, waitUntil, type RunAs } from '../daemon';
import type { SandboxLayout } from '../layout';

const bin = (tool: string) => join(process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin', tool);

/** PostgreSQL refuses to run as root; as root, run it as the `postgres` user. */
export function postgresRunAs(): RunAs | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

export interface PostgresNodeDirs {
  dataDirectory: string;
  socketDirectory: string;
  port: number;
  name: string;
}

export function postgresNodes(layout: SandboxLayout): { primary: PostgresNodeDirs; replica: PostgresNodeDirs } {
  const base = layout.paths.postgres;
  const socketDirectory = join(base, 'sockets');
  return {
    primary: { name: 'pg1', dataDirectory: join(base, 'pg1'), socketDirectory, port: layout.ports.postgresPrimary },
    replica: { name: 'pg2', dataDirectory: join(base, 'pg2'), socketDirectory, port: layout.ports.postgresReplica },
  };
}

/**
 * A primary and a streaming replica (pg_basebackup -R), each named by cluster_name so the primary's
 * pg_stat_replication lists the replica by its inventory name; and the demo database of the guide.
 */
export async function startPostgres(layout: SandboxLayout, password: string): Promise<void> {
  const runAs = postgresRunAs();
  const { primary, replica } = postgresNodes(layout);
  const base = layout.paths.postgres;
  await mkdir(primary.socketDirectory, { recursive: true });
  const pwfile = join(base, 'pwfile');
  await writeFile(pwfile, `${password}\n`, { mode: 0o600 });
  if (runAs) {
    await chown(base, runAs.uid, runAs.gid);
    await chown(primary.socketDirectory, runAs.uid, runAs.gid);
    await chown(pwfile, runAs.uid, runAs.gid);
  }
  const asPostgres = { ...runAs, env: { ...process.env, PGPASSWORD: password, LC_ALL: 'C.UTF-8' } };

  await run(bin('initdb'), [
    '-D', primary.dataDirectory, '-U', 'postgres', '--pwfile', pwfile,
    '--auth-local=trust', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C.UTF-8',
  ], asPostgres);
  await rm(pwfile);
  await appendFile(
    join(primary.dataDirectory, 'postgresql.conf'),
    [
      `listen_addresses = '127.0.0.1'`,
      `port = ${primary.port}`,
      `unix_socket_directories = '${primary.socketDirectory}'`,
      `cluster_name = '${primary.name}'`,
      `wal_level = replica`,
      `max_wal_senders = 10`,
      `wal_keep_size = '256MB'`,
      // pg_rewind needs it to bring a former primary back as a replica after a failover.
      `wal_log_hints = on`,
      `hot_standby = on`,
      `log_connections = on`,
      `shared_buffers = '128MB'`,
      '',
    ].join('\n'),
  );
  await pgCtl(primary, 'start', asPostgres);
  await createDemoDatabase(primary.port, password);

  await run(bin('pg_basebackup'), [
    '-h', '127.0.0.1', '-p', String(primary.port), '-U', 'postgres',
    '-D', replica.dataDirectory, '-R', '-X', 'stream', '--checkpoint=fast',
  ], asPostgres);
  // Later settings win: the copied postgresql.conf still names the primary's port and name.
  await appendFile(
    join(replica.dataDirectory, 'postgresql.conf'),
    `port = ${replica.port}\ncluster_name = '${replica.name}'\n`,
  );
  await pgCtl(replica, 'start', asPostgres);
  await waitUntil(() => replicaStreams(primary.port, password, replica.name), 30_000, 250, 'the replica to stream');
}

export async function stopPostgres(layout: SandboxLayout): Promise<void> {
  const runAs = postgresRunAs();
  for (const node of Object.values(postgresNodes(layout))) {
    await pgCtl(node, 'stop', { ...runAs }).catch(() => undefined);
  }
}

export async function pgCtl(node: PostgresNodeDirs, action: 'start' | 'stop', options: object): Promise<void> {
  const args =
    action === 'start'
      ? ['-D', node.dataDirectory, '-l', join(node.dataDirectory, 'server.log'), '-w', '-t', '60', 'start']
      : ['-D', node.dataDirectory, '-m', 'fast', '-w', '-t', '60', 'stop'];
  await run(bin('pg_ctl'), args, options);
}

async function replicaStreams(primaryPort: number, password: string, name: string): Promise<boolean> {
  const client = new Client({ host: '127.0.0.1', port: primaryPort, user: 'postgres', password, database: 'postgres' });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT 1 FROM pg_stat_replication WHERE application_name = $1 AND state = 'streaming'`,
      [name],
    );
    return rows.length === 1;
  } finally {
    await client.end();
  }
}

/** The guide's database (tego_engine) with the tables its runbooks count: workflows and users. */
async function createDemoDatabase(port: number, password: string): Promise<void> {
  const admin = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  await admin.connect();
  await admin.query('CREATE DATABASE tego_engine');
  await admin.end();
  const db = new Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'tego_engine' });
  await db.connect();
  await db.query(`
    CREATE TABLE users (
      id bigserial PRIMARY KEY,
      email text NOT NULL UNIQUE,
      phone text,
      created_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE workflows (
      id bigserial PRIMARY KEY,
      owner_id bigint NOT NULL REFERENCES users(id),
      name text NOT NULL,
      definition jsonb NOT NULL,
      status text NOT NULL DEFAULT 'active',
      updated_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO users (email, phone)
      SELECT 'user' || g || '@example.com', '138' || lpad(g::text, 8, '0') FROM generate_series(1, 200) g;
    INSERT INTO workflows (owner_id, name, definition)
      SELECT 1 + (g % 200), 'workflow-' || g, jsonb_build_object('steps', g % 7, 'trigger', 'manual')
        FROM generate_series(1, 1000) g;
  `);
  await db.end();
}
