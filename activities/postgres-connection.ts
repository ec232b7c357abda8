import { Client } from 'pg';
import type { Inventory, PostgresNode } from '../inventory/schema';
import type { ActivityDeps } from './deps';

export function postgresSettings(inventory: Inventory) {
  if (!inventory.postgres) throw new Error('the inventory has no postgres section');
  return inventory.postgres;
}

export function findPostgresNode(inventory: Inventory, nodeName: string): PostgresNode {
  const pg = postgresSettings(inventory);
  const node = pg.nodes.find((n) => n.name === nodeName);
  if (!node) {
    throw new Error(`unknown PostgreSQL node "${nodeName}" (nodes: ${pg.nodes.map((n) => n.name).join(', ')})`);
  }
  return node;
}

/**
 * Opens a connection to one node as the inventory's user. The caller ends it.
 * Timeouts are short: a node that does not answer in seconds is a finding, not something to wait on.
 */
export async function connectToNode(
  deps: ActivityDeps,
  node: PostgresNode,
  options: { database?: string; timeoutMs?: number } = {},
): Promise<Client> {
  const pg = postgresSettings(deps.inventory);
  const timeoutMs = options.timeoutMs ?? 5000;
  const client = new Client({
    host: node.address,
    port: node.port,
    user: pg.user,
    password: deps.secret(pg.passwordEnv, 'postgres.passwordEnv'),
    database: options.database ?? pg.database,
    application_name: 'tego-ops',
    connectionTimeoutMillis: timeoutMs,
    statement_timeout: timeoutMs,
  });
  // A connection dropped by the server later must not crash the worker; the query in flight fails instead.
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
