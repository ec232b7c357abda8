import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InventoryError, loadInventory, parseInventory } from '../../inventory/load';
import { appInstances, hostTaskQueue } from '../../inventory/topology';

const examplePath = resolve(__dirname, '../../ops.example.yaml');

function problemsOf(text: string): string[] {
  try {
    parseInventory(text);
  } catch (err) {
    if (err instanceof InventoryError) return err.problems;
    throw err;
  }
  throw new Error('expected the inventory to be rejected');
}

describe('inventory', () => {
  it('accepts the shipped example and fills the guide defaults', async () => {
    const inventory = await loadInventory(examplePath);
    expect(inventory.services.map((s) => s.name)).toEqual(['tego-os', 'tego-os-server', 'tego-mcp', 'tego-llm']);
    expect(inventory.alerts.thresholds.pgConnectionsPercent).toBe(80);
    expect(inventory.alerts.thresholds.redisMemoryPercent).toBe(85);
    expect(inventory.services[0].network).toBe('bridge');
    expect(hostTaskQueue(inventory.hosts[0])).toBe('ops@host1');
    expect(appInstances(inventory).filter((i) => i.service === 'tego-os').map((i) => i.healthUrl)).toEqual([
      'http://10.0.1.11:26000/health',
      'http://10.0.1.12:26000/health',
    ]);
  });

  it('gives the guide\'s alert routes by default and refuses routes that cannot be delivered', () => {
    const base = `
hosts: [{ name: host1, address: 127.0.0.1, docker: { socketPath: /var/run/docker.sock } }]
services:
  - { name: a, image: x, port: 1, health: { path: /health }, placement: [{ host: host1, ports: [1001] }] }
`;
    const defaults = parseInventory(base).alerts;
    expect(defaults.routes.map((r) => [r.priority, r.notifyWithin])).toEqual([['P0', '0s'], ['P1', '0s'], ['P2', '5m'], ['P3', '15m']]);
    expect(defaults.remediation).toEqual({ restartContainers: true, failover: 'approval' });
    expect(defaults.patrolEvery).toBe('30s');
    expect(
      problemsOf(`${base}
alerts:
  routes: [{ priority: P1, channels: [webhook] }, { priority: P1, notifyWithin: soon }]
  priorities: { app-down: P0 }
  remediation: { restartServices: [b] }
`),
    ).toEqual([
      'alerts.routes[1].notifyWithin: expected a duration like 30s, 5m, 1h',
      'alerts.routes[1].priority: a second route for P1: one route per priority',
      'alerts.routes[0].channels[0]: channel webhook is not configured: set alerts.webhookUrlEnv',
      'alerts.remediation.restartServices[0]: unknown service "b" (services: a)',
      expect.stringMatching(/^alerts\.priorities\.app-down: unknown alert rule "app-down" \(rules: postgres-primary-down, .*\)$/),
    ]);
  });

  it('names the field path of a wrong type', () => {
    const text = `
hosts: [{ name: host1, address: 127.0.0.1, docker: { socketPath: /var/run/docker.sock } }]
services:
  - { name: a, image: x, port: 1, health: { path: /health }, placement: [{ host: host1, ports: [1001] }] }
  - { name: b, image: x, port: 1, health: { path: /health }, placement: [{ host: host1, ports: [1002] }] }
  - { name: c, image: x, port: 1, health: { path: 42 }, placement: [{ host: host1, ports: [1003] }] }
`;
    expect(problemsOf(text)).toEqual(['services[2].health.path: expected string, received number']);
  });

  it('reports every problem at once, each with its path', () => {
    const text = `
hosts: [{ name: host1, address: 127.0.0.1, docker: {} }]
services:
  - { name: a, image: x, port: 70000, health: { path: /h }, placement: [{ host: nowhere, ports: [1] }] }
postgres:
  user: postgres
  passwordEnv: pg-password
  database: db
  nodes: [{ name: n1, host: host1, address: x, role: replica }]
loadBalancer:
  host: host1
  address: 127.0.0.1
  configFile: relative/tego.conf
  testCommand: [nginx, -t]
  reloadCommand: [nginx, -s, reload]
  frontends: [{ service: ghost, listen: 80 }]
`;
    const problems = problemsOf(text);
    expect(problems).toEqual(
      expect.arrayContaining([
        'hosts[0].docker: expected exactly one of socketPath or host',
        'services[0].port: Too big: expected number to be <=65535',
        'postgres.passwordEnv: expected the NAME of an environment variable (A-Z, 0-9, _)',
        'loadBalancer.configFile: expected an absolute path',
      ]),
    );
    expect(problems.length).toBeGreaterThanOrEqual(4);
  });

  it('checks cross references once the shapes are right', () => {
    const text = `
hosts: [{ name: host1, address: 127.0.0.1, docker: { socketPath: /var/run/docker.sock } }]
services:
  - { name: a, image: x, port: 1, health: { path: /h }, placement: [{ host: nowhere, ports: [1] }] }
  - { name: a, image: x, port: 1, health: { path: /h }, placement: [{ host: host1, ports: [5, 5] }] }
postgres:
  user: postgres
  passwordEnv: PG_PASSWORD
  database: db
  nodes: [{ name: n1, host: host1, address: x, role: replica }]
loadBalancer:
  host: host1
  address: 127.0.0.1
  configFile: /etc/nginx/conf.d/tego.conf
  testCommand: [nginx, -t]
  reloadCommand: [nginx, -s, reload]
  frontends: [{ service: ghost, listen: 80 }]
`;
    expect(problemsOf(text)).toEqual([
      'services[1].name: duplicate service name "a"',
      'services[0].placement[0].host: unknown host "nowhere" (hosts: host1)',
      'services[1].placement[0].ports[1]: port 5 on host1 is already used by a',
      'postgres.nodes: expected exactly one node with role primary, found 0',
      'loadBalancer.frontends[0].service: unknown service "ghost" (services: a)',
    ]);
  });

  it('rejects unknown fields, so a typo is not silently ignored', () => {
    const text = `
hosts: [{ name: host1, address: 127.0.0.1, docker: { socketPath: /var/run/docker.sock }, adress: typo }]
`;
    expect(problemsOf(text)).toEqual(['hosts[0]: Unrecognized key: "adress"']);
  });

  it('points at the line of a YAML syntax error', () => {
    expect(problemsOf('hosts:\n  - name: [unclosed\n')[0]).toMatch(/^line \d+, column \d+: /);
  });

  it('says when the file is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tego-inventory-'));
    await expect(loadInventory(join(dir, 'ops.yaml'))).rejects.toThrow(/ops\.yaml is not a valid inventory:\n {2}- file not found/);
    await writeFile(join(dir, 'empty.yaml'), '');
    await expect(loadInventory(join(dir, 'empty.yaml'))).rejects.toThrow(/hosts: expected array, received undefined/);
  });
});
