import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessLogActivities } from '../../activities/access-log';
import { createDeps } from '../../activities/deps';
import { parseInventory } from '../../inventory/load';

let dir: string;
let logFile: string;
let activities: ReturnType<typeof createAccessLogActivities>;

const line = (port: number, status: number, remote = '10.0.0.7') =>
  `${JSON.stringify({ time: '2026-12-05T10:00:00+00:00', port: String(port), status: String(status), upstream: '10.0.0.1:26000', upstreamStatus: String(status), requestTime: '0.002', remote, uri: '/' })}\n`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tego-access-log-'));
  logFile = join(dir, 'access.json');
  const inventory = parseInventory(
    `
hosts: [{ name: lb, address: 127.0.0.1, docker: { socketPath: /var/run/docker.sock } }]
services:
  - { name: web, image: web:1, port: 80, health: { path: /health }, placement: [{ host: lb, ports: [8001] }] }
  - { name: api, image: api:1, port: 80, health: { path: /health }, placement: [{ host: lb, ports: [8002] }] }
loadBalancer:
  host: lb
  address: 127.0.0.1
  configFile: ${dir}/tego.conf
  testCommand: [nginx, -t]
  reloadCommand: [nginx, -s, reload]
  frontends: [{ service: web, listen: 80 }, { service: api, listen: 81 }]
  accessLog: ${logFile}
`,
    'inline.yaml',
  );
  activities = createAccessLogActivities(createDeps(inventory, 'lb'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('summarizeAccessLog', () => {
  it('starts at the end the first time, then counts each frontend\'s requests, 5xx, 401 and 403 since the mark', async () => {
    await writeFile(logFile, line(80, 200) + line(80, 500));
    const first = await activities.summarizeAccessLog({ host: 'lb' });
    expect(first).toMatchObject({ bytesRead: 0, frontends: [], rotated: false });

    await appendFile(logFile, line(80, 200) + line(80, 502) + line(81, 401, '10.9.9.9') + line(81, 403, '10.9.9.9') + line(81, 401) + 'not json\n' + line(99, 200));
    const second = await activities.summarizeAccessLog({ host: 'lb', offset: first!.offset });
    expect(second!.frontends).toEqual([
      { service: 'web', requests: 2, serverErrors: 1, unauthorized: 0, forbidden: 0 },
      { service: 'api', requests: 3, serverErrors: 0, unauthorized: 2, forbidden: 1 },
    ]);
    expect(second!.deniedByClient).toEqual([
      { client: '10.9.9.9', unauthorized: 1, forbidden: 1 },
      { client: '10.0.0.7', unauthorized: 1, forbidden: 0 },
    ]);
    expect(second!.unreadable).toBe(2); // the torn line and a port no frontend listens on
  });

  it('starts over on a rotated (shorter) file, and reads only the newest maxBytes of a flood', async () => {
    await writeFile(logFile, line(80, 500));
    const rotated = await activities.summarizeAccessLog({ host: 'lb', offset: 1_000_000 });
    expect(rotated).toMatchObject({ rotated: true, frontends: [{ service: 'web', requests: 1, serverErrors: 1 }] });

    await writeFile(logFile, line(80, 500).repeat(1000) + line(80, 200).repeat(10));
    const capped = await activities.summarizeAccessLog({ host: 'lb', offset: 0, maxBytes: line(80, 200).length * 10 + 5 });
    // The cut lands inside a line, which is skipped: only the ten newest whole lines are counted.
    expect(capped!.frontends).toEqual([{ service: 'web', requests: 10, serverErrors: 0, unauthorized: 0, forbidden: 0 }]);
  });
});
