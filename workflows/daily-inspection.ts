import { executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { NotificationResult } from '../activities/notify';
import { ActivityPresets } from './activity-options';
import { collectBackupFreshness } from './backup-status';
import { healthCheckWorkflow } from './health-check';
import { DailyInspectionInputSchema, type DailyInspectionInput } from './inputs';
import { findingsOf, renderInspectionMarkdown, type InspectionReport } from './inspection-report';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);
const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const notifier = proxyActivities<SharedActivities>({
  startToCloseTimeout: '1 minute',
  scheduleToCloseTimeout: '10 minutes',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
/** Reading a day of logs can take a while on a busy host. */
const hostReads = (taskQueue: string) =>
  proxyActivities<HostActivities>({ ...ActivityPresets.hostProbe, startToCloseTimeout: '10 minutes', taskQueue });

/**
 * The guide's 每日检查清单 as a report: all services' health, resource use (docker stats), error lines in
 * the containers' logs since the previous inspection, backup and drill freshness, and security events
 * (failed PostgreSQL logins, 401/403 through nginx). Stored as JSON and Markdown in the bucket; a summary
 * goes out by notification. Reads only: nothing is changed.
 */
export async function dailyInspectionWorkflow(input: DailyInspectionInput = {}): Promise<{ report: InspectionReport; keys: string[]; notified: NotificationResult | null }> {
  const { notify } = parseInput(DailyInspectionInputSchema, input);
  const progress = beginRun({ kind: 'daily-inspection', target: 'all' });
  const startedAt = new Date(workflowInfo().runStartTime);
  const id = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  const topology = await probe.describeTopology();

  const previous = topology.storage ? await progress.step('read the previous inspection', () => storage.latestInspection()) : null;
  const since = previous ? previous.finishedAt : new Date(startedAt.getTime() - 86_400_000).toISOString();

  const [health, resources, logErrors, failedLogins, accessLog, backups] = await progress.step('inspect everything', () =>
    Promise.all([
      executeChild(healthCheckWorkflow, { args: [{}], workflowId: `${workflowInfo().workflowId}-health` }),
      Promise.all(
        topology.hosts.map((h) =>
          hostReads(h.taskQueue)
            .containerResourceUsage(h.name)
            .then((containers) => ({ host: h.name, containers }), (err: Error) => ({ host: h.name, containers: [], problem: err.message })),
        ),
      ),
      Promise.all(
        topology.hosts.map((h) =>
          hostReads(h.taskQueue)
            .containerLogErrors({ host: h.name, since })
            .then((containers) => ({ host: h.name, containers }), (err: Error) => ({ host: h.name, containers: [], problem: err.message })),
        ),
      ),
      Promise.all(
        [...new Set((topology.postgres?.nodes ?? []).map((n) => n.host))].map((host) =>
          hostReads(topology.hosts.find((h) => h.name === host)!.taskQueue)
            .postgresAuthFailures({ host, since })
            .catch((err: Error) => [{ node: `nodes on ${host}`, logFile: '', failedLogins: 0, byUser: {}, samples: [], problem: err.message }]),
        ),
      ).then((perHost) => perHost.flat()),
      topology.loadBalancer && topology.alerting.accessLog
        ? hostReads(topology.loadBalancer.taskQueue).summarizeAccessLog({ host: topology.loadBalancer.host, offset: previous?.security.accessLogOffset ?? 0 })
        : Promise.resolve(null),
      topology.storage ? collectBackupFreshness(topology, startedAt) : Promise.resolve([]),
    ]),
  );

  const partial: Omit<InspectionReport, 'findings'> = {
    id,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    since,
    health: {
      overall: health.overall,
      counts: health.counts,
      problems: health.components.filter((c) => c.status !== 'up').map((c) => ({ kind: c.kind, target: c.target, status: c.status, ...(c.reason ? { reason: c.reason } : {}) })),
    },
    resources,
    logErrors,
    backups,
    security: {
      failedLogins,
      denied: accessLog
        ? {
            unauthorized: accessLog.frontends.reduce((n, f) => n + f.unauthorized, 0),
            forbidden: accessLog.frontends.reduce((n, f) => n + f.forbidden, 0),
            byClient: accessLog.deniedByClient.slice(0, 20),
          }
        : null,
      ...(accessLog ? { accessLogOffset: accessLog.offset } : {}),
    },
  };
  const report: InspectionReport = { ...partial, findings: findingsOf(partial) };
  const keys = topology.storage
    ? await progress.step('store the report', () => storage.writeInspectionReport({ id, report, markdown: renderInspectionMarkdown(report) }))
    : [];

  let notified: NotificationResult | null = null;
  if (notify) {
    notified = await progress.step('send the summary', () =>
      notifier.notify({
        id: `daily-inspection/${id}`,
        kind: 'report',
        title: `Daily inspection ${id}: ${report.findings.length === 0 ? 'all clear' : `${report.findings.length} finding${report.findings.length === 1 ? '' : 's'}`}`,
        body: [...report.findings.slice(0, 20).map((f) => `• ${f}`), ...(report.findings.length > 20 ? [`… and ${report.findings.length - 20} more`] : []), keys[1] ? `Full report: ${keys[1]}` : '']
          .filter(Boolean)
          .join('\n'),
      }),
    );
  }
  return { report, keys, notified };
}
