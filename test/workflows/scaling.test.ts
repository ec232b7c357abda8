import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { loadInventory } from '../../inventory/load';
import { findService } from '../../inventory/topology';
import type { ScaleReport } from '../../workflows/scaling';
import { startHttpLoad } from '../harness/http-load';
import { sandboxLayout } from '../harness/layout';
import { dockerSocket } from '../harness/services/docker-engine';
import { nginxPaths } from '../harness/services/nginx';
import { innermostTypedFailure } from '../harness/failures';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';

const suite = useSandbox();
const { sandbox } = suite;
const docker = new Docker({ socketPath: dockerSocket });
const service = 'tego-os';
const nginx = nginxPaths(sandboxLayout(sandbox.stateDir, sandbox.portBase));
/** Host ports no sandbox instance uses (both logical hosts share this machine). */
const newPorts = [sandbox.portBase + 190, sandbox.portBase + 191];

const placement = async () => findService(await loadInventory(sandbox.inventoryPath), service).placement;
const frontendUrl = async () => {
  const lb = (await loadInventory(sandbox.inventoryPath)).loadBalancer!;
  return `http://${lb.address}:${lb.frontends.find((f) => f.service === service)!.listen}/`;
};
const exists = (name: string) => docker.getContainer(name).inspect().then(() => true, () => false);
/** nginx's worker pids: a reload replaces them. */
const nginxWorkers = () =>
  execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('nginx: worker process') && !l.includes('shutting down'))
    .map((l) => l.trim().split(/\s+/)[0])
    .sort();

function run(workflowType: string, input: Record<string, unknown>) {
  return suite.client.workflow.start<(i: unknown) => Promise<ScaleReport>>(workflowType, { taskQueue: 'ops', workflowId: uniqueId(workflowType), args: [input] });
}


const original = await placement();

afterAll(async () => {
  if (JSON.stringify(await placement()) !== JSON.stringify(original)) {
    const extra = (await placement()).flatMap((p) => p.ports).length - original.flatMap((p) => p.ports).length;
    if (extra > 0) await (await run('scaleInWorkflow', { service, host: 'host2', count: extra, minInstances: 1 })).result();
  }
});

describe('scaleOutWorkflow / scaleInWorkflow', () => {
  it('scales out under load: the new instances get traffic through nginx, no request fails', async () => {
    const load = startHttpLoad(await frontendUrl());
    const report = await (await run('scaleOutWorkflow', { service, host: 'host2', count: 2, ports: newPorts })).result();
    await new Promise((r) => setTimeout(r, 1000));
    const traffic = await load.stop();
    console.log(`scale-out: ${traffic.requests} requests, ${traffic.failed} failed`);
    expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    expect(report.instances).toEqual([`${sandbox.containerNamePrefix}${service}-host2-2`, `${sandbox.containerNamePrefix}${service}-host2-3`]);
    expect(report.total).toBe(5);
    for (const name of report.instances) {
      expect(Object.keys(traffic.servedBy).some((who) => who.startsWith(`${name}@`))).toBe(true);
      expect(await readFile(nginx.siteConfig, 'utf8')).toContain(`# ${name}`);
    }
    expect((await placement()).find((p) => p.host === 'host2')!.ports).toEqual([...original.find((p) => p.host === 'host2')!.ports, ...newPorts]);
  });

  it('scales in under load: drained out of nginx first, then removed; no request fails', async () => {
    const load = startHttpLoad(await frontendUrl());
    const report = await (await run('scaleInWorkflow', { service, host: 'host2', count: 2 })).result();
    const traffic = await load.stop();
    console.log(`scale-in: ${traffic.requests} requests, ${traffic.failed} failed`);
    expect(traffic.failed, traffic.failures.join('\n')).toBe(0);
    expect(report.total).toBe(3);
    for (const name of report.instances) {
      expect(await exists(name)).toBe(false);
      expect(await readFile(nginx.siteConfig, 'utf8')).not.toContain(`# ${name}`);
    }
    expect(await placement()).toEqual(original);
  });

  it('refuses to go below the minimum instance count, changing nothing', async () => {
    const failure = innermostTypedFailure(await (await run('scaleInWorkflow', { service: 'tego-mcp', count: 1, minInstances: 1 })).result().catch((e: unknown) => e));
    expect(failure.type).toBe('PreconditionFailed');
    expect(failure.message).toMatch(/would leave 0, below minInstances 1; nothing changed/);
  });

  it('a configuration nginx -t rejects is never loaded; the new instances are removed and the inventory put back', async () => {
    const mainConfig = await readFile(nginx.mainConfig, 'utf8');
    const siteBefore = await readFile(nginx.siteConfig, 'utf8');
    const workersBefore = nginxWorkers();
    await writeFile(nginx.mainConfig, `${mainConfig}this_is_not_a_directive;\n`);
    try {
      const failure = innermostTypedFailure(await (await run('scaleOutWorkflow', { service, host: 'host2', count: 1, ports: [newPorts[0]] })).result().catch((e: unknown) => e));
      expect(failure.type).toBe('InvalidConfig');
      expect(failure.message).toMatch(/nginx rejected the rendered upstreams, nothing was reloaded/);
    } finally {
      await writeFile(nginx.mainConfig, mainConfig);
    }
    expect(await readFile(nginx.siteConfig, 'utf8')).toBe(siteBefore);
    expect(nginxWorkers()).toEqual(workersBefore);
    expect(await exists(`${sandbox.containerNamePrefix}${service}-host2-2`)).toBe(false);
    expect(await placement()).toEqual(original);
    const response = await fetch(await frontendUrl());
    expect(response.status).toBe(200);
  });
});
