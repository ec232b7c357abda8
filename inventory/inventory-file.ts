import { readFileSync, statSync } from 'node:fs';
import { rename, stat, writeFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, parseDocument } from 'yaml';
import { parseInventory } from './load';
import type { Inventory } from './schema';

/** The PostgreSQL roles a switchover or failover leaves behind. */
export interface PostgresRoles {
  primary: string;
  /** Nodes out of service until rejoined; every other node is an unfenced replica. */
  fenced: string[];
}

/**
 * The inventory file a worker was started with, re-read whenever it changes on disk: a switchover or
 * failover rewrites the PostgreSQL roles in it, and every later activity must act on the new primary.
 */
export class InventoryFile {
  private inventory: Inventory;
  private stamp: string;

  constructor(
    readonly path: string,
    initial: Inventory,
  ) {
    this.inventory = initial;
    this.stamp = stampOf(path);
  }

  /**
   * The inventory as the file says now. A stat per call; parsed again only when the file changed.
   * @throws InventoryError when the file was changed into something invalid (the activity fails and retries)
   */
  current(): Inventory {
    const stamp = stampOf(this.path);
    if (stamp !== this.stamp) {
      this.inventory = parseInventory(readFileSync(this.path, 'utf8'), this.path);
      this.stamp = stamp;
    }
    return this.inventory;
  }

  /**
   * Rewrites the roles of the PostgreSQL nodes in place (comments and layout kept), validates the result
   * and replaces the file atomically. Writing the roles it already has changes nothing.
   */
  async setPostgresRoles(roles: PostgresRoles): Promise<{ changed: boolean }> {
    return this.edit((text) => withPostgresRoles(text, roles, this.path));
  }

  /** Rewrites where a service's instances run (a scale-out or scale-in), the rest of the file untouched. */
  async setServicePlacement(service: string, placement: Placement[]): Promise<{ changed: boolean }> {
    return this.edit((text) => withServicePlacement(text, service, placement, this.path));
  }

  private async edit(change: (text: string) => string): Promise<{ changed: boolean }> {
    const text = readFileSync(this.path, 'utf8');
    const updated = change(text);
    if (updated === text) return { changed: false };
    const inventory = parseInventory(updated, this.path);
    const temporary = `${this.path}.tego-ops-${process.pid}.tmp`;
    await writeFile(temporary, updated, { mode: (await stat(this.path)).mode & 0o777 });
    await rename(temporary, this.path);
    this.inventory = inventory;
    this.stamp = stampOf(this.path);
    return { changed: true };
  }
}

/**
 * `text` with each node's `role` (and `fenced`) set, edited in place by source position so everything
 * else — comments, flow or block style, spacing — stays exactly as its author wrote it.
 */
export function withPostgresRoles(text: string, roles: PostgresRoles, file = 'ops.yaml'): string {
  const document = parseDocument(text);
  const nodes = document.getIn(['postgres', 'nodes']);
  if (!isSeq(nodes)) throw new Error(`${file} has no postgres.nodes list`);
  const edits: { at: number; end: number; insert: string }[] = [];
  for (const item of nodes.items) {
    if (!isMap(item)) continue;
    const name = String(item.get('name'));
    const pairOf = (key: string) => item.items.find((p) => isScalar(p.key) && p.key.value === key);
    const role = pairOf('role');
    if (!role || !isScalar(role.value) || !role.value.range) throw new Error(`${file}: node ${name} has no role to set`);
    edits.push({ at: role.value.range[0], end: role.value.range[1], insert: name === roles.primary ? 'primary' : 'replica' });
    const fenced = roles.fenced.includes(name);
    const current = pairOf('fenced');
    if (current && isScalar(current.value) && current.value.range) {
      edits.push({ at: current.value.range[0], end: current.value.range[1], insert: String(fenced) });
    } else if (fenced) {
      const after = role.value.range[1];
      const keyStart = isScalar(role.key) && role.key.range ? role.key.range[0] : role.value.range[0];
      const indent = ' '.repeat(keyStart - text.lastIndexOf('\n', keyStart) - 1);
      edits.push({ at: after, end: after, insert: item.flow ? ', fenced: true' : `\n${indent}fenced: true` });
    }
  }
  let result = text;
  for (const edit of edits.sort((a, b) => b.at - a.at)) result = result.slice(0, edit.at) + edit.insert + result.slice(edit.end);
  return result;
}

export interface Placement {
  host: string;
  ports: number[];
}

/** `text` with one service's `placement` list replaced, in the list's own style (block or flow). */
export function withServicePlacement(text: string, service: string, placement: Placement[], file = 'ops.yaml'): string {
  const document = parseDocument(text);
  const services = document.get('services');
  if (!isSeq(services)) throw new Error(`${file} has no services list`);
  const entry = services.items.find((item) => isMap(item) && item.get('name') === service);
  if (!isMap(entry)) throw new Error(`${file} has no service ${service}`);
  const list = entry.get('placement', true);
  if (!isSeq(list) || !list.range) throw new Error(`${file}: service ${service} has no placement list`);
  const item = (p: Placement) => `{ host: ${p.host}, ports: [${p.ports.join(', ')}] }`;
  const [start, end] = list.range;
  const indent = ' '.repeat(start - text.lastIndexOf('\n', start) - 1);
  const rendered = list.flow ? `[${placement.map(item).join(', ')}]` : placement.map((p) => `- ${item(p)}`).join(`\n${indent}`);
  return text.slice(0, start) + rendered + (list.flow ? '' : '\n') + text.slice(end).replace(/^\n/, '');
}

function stampOf(path: string): string {
  const { mtimeMs, size, ino } = statSync(path);
  return `${ino}:${mtimeMs}:${size}`;
}
