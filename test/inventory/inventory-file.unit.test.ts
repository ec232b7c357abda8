import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { instanceContainerSpec } from '../../activities/docker-containers';
import { InventoryFile, withPostgresRoles } from '../../inventory/inventory-file';
import { type InventoryError, loadInventory, parseInventory } from '../../inventory/load';
import { appInstances, findService } from '../../inventory/topology';

const examplePath = resolve(__dirname, '../../ops.example.yaml');

async function exampleCopy(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'tego-inventory-')), 'ops.yaml');
  await copyFile(examplePath, file);
  return file;
}

describe('InventoryFile', () => {
  it('rewrites the PostgreSQL roles in place, keeping comments, and later reads see them', async () => {
    const file = await exampleCopy();
    const inventoryFile = new InventoryFile(file, await loadInventory(file));
    expect(await inventoryFile.setPostgresRoles({ primary: 'postgres-slave', fenced: ['postgres-master'] })).toEqual({ changed: true });
    const text = await readFile(file, 'utf8');
    expect(text).toContain('# Apps that use the database get the primary');
    const nodes = inventoryFile.current().postgres!.nodes;
    expect(nodes.map((n) => [n.name, n.role, n.fenced])).toEqual([
      ['postgres-master', 'replica', true],
      ['postgres-slave', 'primary', false],
    ]);
    expect((await loadInventory(file)).postgres!.nodes.find((n) => n.role === 'primary')!.name).toBe('postgres-slave');
    // The same roles again change nothing.
    expect(await inventoryFile.setPostgresRoles({ primary: 'postgres-slave', fenced: ['postgres-master'] })).toEqual({ changed: false });
    // Back again: only the values changed; the author's layout stays.
    await inventoryFile.setPostgresRoles({ primary: 'postgres-master', fenced: [] });
    expect(await readFile(file, 'utf8')).toBe((await readFile(examplePath, 'utf8')).replace('role: primary, dataDirectory', 'role: primary, fenced: false, dataDirectory'));
  });

  it('edits block-style nodes too', () => {
    const text = ['postgres:', '  nodes:', '    - name: a   # the first', '      role: primary', '    - name: b', '      role: replica', '      fenced: true', ''].join('\n');
    expect(withPostgresRoles(text, { primary: 'b', fenced: ['a'] })).toBe(
      ['postgres:', '  nodes:', '    - name: a   # the first', '      role: replica', '      fenced: true', '    - name: b', '      role: primary', '      fenced: false', ''].join('\n'),
    );
  });

  it('sees an edit made by someone else, and refuses roles that would make the file invalid', async () => {
    const file = await exampleCopy();
    const inventoryFile = new InventoryFile(file, await loadInventory(file));
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.replace('maxLagBytes: 16777216', 'maxLagBytes: 1048576'));
    expect(inventoryFile.current().postgres!.maxLagBytes).toBe(1048576);
    await expect(inventoryFile.setPostgresRoles({ primary: 'no-such-node', fenced: [] })).rejects.toThrow(/expected exactly one node with role primary, found 0/);
    expect(inventoryFile.current().postgres!.nodes.find((n) => n.role === 'primary')!.name).toBe('postgres-master');
  });
});

describe('database client environment', () => {
  it('points apps that use the database at the primary, or at the node given', async () => {
    const inventory = await loadInventory(examplePath);
    const service = findService(inventory, 'tego-os-server');
    const instance = appInstances(inventory, service)[0];
    const env = (database?: (typeof inventory.postgres & object)['nodes'][number]) =>
      instanceContainerSpec(inventory, service, instance, service.image, {}, { database }).Env!;
    expect(env()).toEqual(expect.arrayContaining(['POSTGRES_HOST=10.0.2.21', 'POSTGRES_PORT=5432']));
    expect(env(inventory.postgres!.nodes[1])).toEqual(expect.arrayContaining(['POSTGRES_HOST=10.0.2.22']));
    const web = findService(inventory, 'tego-os');
    expect(instanceContainerSpec(inventory, web, appInstances(inventory, web)[0], web.image, {}).Env!.some((e) => e.startsWith('POSTGRES_HOST='))).toBe(false);
  });

  it('refuses a service that sets the variables the primary fills in, and a fenced primary', async () => {
    const text = (await readFile(examplePath, 'utf8'))
      .replace('      NODE_ENV: production', '      NODE_ENV: production\n      POSTGRES_HOST: 10.0.2.99')
      .replace('role: primary, dataDirectory', 'role: primary, fenced: true, dataDirectory');
    let problems: string[] = [];
    try {
      parseInventory(text);
    } catch (err) {
      problems = (err as InventoryError).problems;
    }
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^postgres\.nodes\[0\]\.fenced: the primary cannot be fenced/),
        expect.stringMatching(/^services\[1\]\.env\.POSTGRES_HOST: POSTGRES_HOST is set from the primary/),
      ]),
    );
  });
});
