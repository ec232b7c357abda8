/**
 * Monitoring, side by side on one sandbox: the guide's 自动告警脚本 (a bash loop of `curl -f
 * http://localhost:$port/health` per service, `send_alert` on each failure) against healthPatrolWorkflow.
 *
 *   cost of one round  — wall time and the machine's CPU time of one curl round, against one patrol
 *                        (which also checks PostgreSQL, Redis, nginx, containers, backups, queues);
 *   one outage         — a container stopped for OUTAGE_SECONDS with both checking every PERIOD_SECONDS:
 *                        time to the first notification and how many notifications each sent.
 *
 * Usage: npx tsx bench/patrol.ts [--keep]
 */
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { loadInventory } from '../inventory/load';
import { topologyView } from '../inventory/topology';
import type { PatrolReport } from '../workflows/health-patrol';
import { sandboxLayout } from '../test/harness/layout';
import { receivedWebhooks } from '../test/harness/services/alert-sinks';
import { dockerSocket } from '../test/harness/services/docker-engine';
import { waitUntil } from '../test/harness/daemon';
import { runBench } from './bench-sandbox';
import { peakRssMiB, processCpuSeconds, ratio, timed } from './measure';

const run = promisify(execFile);
const periodSeconds = 5;
const outageSeconds = 60;
const patrolsMeasured = 20;

/** The guide's script, for every instance the inventory places: one round, alerts appended to a file. */
function guideRound(ports: number[], alertLog: string): string {
  return `
check_service() {
  local port=$1
  if ! curl -sf --max-time 10 http://127.0.0.1:$port/health > /dev/null 2>&1 && ! curl -sf --max-time 10 http://127.0.0.1:$port/api/health > /dev/null 2>&1; then
    echo "$(date): Service on port $port is down" >> ${alertLog}
  fi
}
for port in ${ports.join(' ')}; do check_service $port; done`;
}

runBench({ stateDir: '/tmp/tego-bench-patrol', portBase: 26000, containerNamePrefix: 'bench-' }, process.argv.includes('--keep'), async ({ sandbox, client, worker }) => {
  const layout = sandboxLayout(sandbox.stateDir, sandbox.portBase);
  const topology = topologyView(await loadInventory(sandbox.inventoryPath));
  const ports = topology.instances.map((i) => i.hostPort);
  const alertLog = `${sandbox.stateDir}/guide-alerts.log`;

  // Cost of one round, on a healthy sandbox.
  const rounds = 10;
  const guide = await timed(async () => {
    for (let i = 0; i < rounds; i++) await run('bash', ['-c', guideRound(ports, alertLog)]);
  });
  // What the machine spends with nothing to do (servers idling), over as long as the patrols will take.
  const idle = await timed(() => new Promise((r) => setTimeout(r, patrolsMeasured * periodSeconds * 1000)));
  const handle = await client.workflow.start('healthPatrolWorkflow', { taskQueue: 'ops', workflowId: `bench-patrol-${Date.now()}`, args: [{ every: `${periodSeconds}s` }] });
  const report = () => handle.query<PatrolReport | null>('patrolReport');
  await waitUntil(async () => ((await report())?.patrol ?? 0) >= 1, 60_000, 200, 'the first patrol');
  const workerCpu = () => processCpuSeconds(worker.child.pid!);
  const durations: number[] = [];
  const cpuBefore = await workerCpu();
  const patrol = await timed(async () => {
    let seen = (await report())!.patrol;
    while (durations.length < patrolsMeasured) {
      const now = await report();
      if (now && now.patrol > seen) {
        durations.push(now.durationMs);
        seen = now.patrol;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  });
  const idleCpuPerSecond = idle.cpuSeconds / idle.seconds;
  const patrolCpu = (patrol.cpuSeconds - idleCpuPerSecond * patrol.seconds) / patrolsMeasured;
  const workerCpuPerPatrol = ((await workerCpu()) - cpuBefore) / patrolsMeasured;
  const sorted = [...durations].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];

  // One outage: both watch the same container.
  const victim = topology.instances.find((i) => i.service === 'tego-os')!;
  const docker = new Docker({ socketPath: dockerSocket });
  await writeFile(alertLog, '');
  const alertsLogged = async () => (await readFile(alertLog, 'utf8')).split('\n').filter(Boolean).length;
  const webhooksBefore = (await receivedWebhooks(layout)).length;
  // The guide's loop keeps its own rhythm, begun before the outage, as a cron'd script would.
  const loopStarted = Date.now();
  const stoppedAt = loopStarted + 2500;
  let guideFirst: number | undefined;
  const stop = new Promise((r) => setTimeout(r, stoppedAt - Date.now())).then(() => docker.getContainer(victim.containerName).stop({ t: 1 }));
  while (Date.now() - stoppedAt < outageSeconds * 1000) {
    const round = Date.now();
    await run('bash', ['-c', guideRound([victim.hostPort], alertLog)]);
    if (!guideFirst && round > stoppedAt && (await alertsLogged()) > 0) guideFirst = Date.now();
    await new Promise((r) => setTimeout(r, periodSeconds * 1000 - (Date.now() - round)));
  }
  await stop;
  await docker.getContainer(victim.containerName).start();
  const guideAlerts = await alertsLogged();
  await new Promise((r) => setTimeout(r, 3 * periodSeconds * 1000));
  const ours = (await receivedWebhooks(layout)).slice(webhooksBefore).filter((w) => w.body.tego?.target === victim.containerName);
  const firstOurs = ours.find((w) => w.body.tego?.kind === 'firing');
  await handle.terminate('bench finished');
  for await (const r of client.workflow.list({ query: `TegoKind = 'incident' AND ExecutionStatus = 'Running'` })) {
    await client.workflow.getHandle(r.workflowId).terminate('bench finished');
  }

  console.log(`
monitoring: ${topology.instances.length} app instances, ${topology.frontends.length} frontends, ${topology.postgres?.nodes.length ?? 0} PostgreSQL nodes, Redis, bucket, ${topology.hosts.length} hosts

one round (healthy sandbox)            wall        machine CPU
  guide curl loop (instances only)     ${(guide.seconds / rounds).toFixed(3)} s     ${(guide.cpuSeconds / rounds).toFixed(3)} s
  healthPatrolWorkflow (everything)    ${(median / 1000).toFixed(3)} s     ${patrolCpu.toFixed(3)} s  (median of ${patrolsMeasured}; slowest ${(sorted.at(-1)! / 1000).toFixed(3)} s; over the idle machine's ${idleCpuPerSecond.toFixed(2)} CPU-s/s; worker process ${workerCpuPerPatrol.toFixed(3)} CPU-s)
  patrol / curl loop                   ${ratio(median / 1000, guide.seconds / rounds)}       ${ratio(patrolCpu, guide.cpuSeconds / rounds)}

one ${outageSeconds} s outage of ${victim.containerName}, both checking every ${periodSeconds} s
  guide: first alert after ${guideFirst ? ((guideFirst - stoppedAt) / 1000).toFixed(1) : '-'} s, ${guideAlerts} alerts (one per round, no dedup, no escalation, no resolve)
  tego-ops: first notification after ${firstOurs ? ((Date.parse(firstOurs.receivedAt) - stoppedAt) / 1000).toFixed(1) : '-'} s, ${ours.length} notifications (${ours.map((w) => w.body.tego?.kind).join(', ')})
worker peak RSS ${await peakRssMiB(worker.child.pid!)} MiB
`);
});
