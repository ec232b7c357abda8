import type { AuthFailures, ContainerLogErrors, ContainerUsage } from '../activities/host-inspection';
import type { BackupFreshness } from './backup-status';
import type { HealthReport } from './health-report';

/** The guide's 每日检查清单 as data: what the daily inspection stores (JSON) and renders (Markdown). */
export interface InspectionReport {
  id: string;
  startedAt: string;
  finishedAt: string;
  /** The period the log counts cover: from the previous inspection (or a day before) to now. */
  since: string;
  health: Pick<HealthReport, 'overall' | 'counts'> & { problems: { kind: string; target: string; status: string; reason?: string }[] };
  resources: { host: string; containers: ContainerUsage[]; problem?: string }[];
  logErrors: { host: string; containers: ContainerLogErrors[]; problem?: string }[];
  backups: BackupFreshness[];
  security: {
    failedLogins: AuthFailures[];
    /** 401/403 through nginx since the previous inspection; null without an access log. */
    denied: { unauthorized: number; forbidden: number; byClient: { client: string; unauthorized: number; forbidden: number }[] } | null;
    /** Where the next inspection resumes reading the access log. */
    accessLogOffset?: number;
  };
  /** Each thing that needs a person, one line each; empty when all is well. */
  findings: string[];
}

/** Resource use above these is a finding (the guide's capacity checks). */
const limits = { cpuPercent: 80, memoryPercent: 85 };

/** What in the report needs a person. */
export function findingsOf(report: Omit<InspectionReport, 'findings'>): string[] {
  const findings: string[] = [];
  for (const p of report.health.problems) findings.push(`health: ${p.kind} ${p.target} is ${p.status}${p.reason ? ` — ${p.reason}` : ''}`);
  for (const host of report.resources) {
    if (host.problem) findings.push(`resources on ${host.host}: ${host.problem}`);
    for (const c of host.containers) {
      if (c.state !== 'running') findings.push(`resources: ${c.container} on ${host.host} is ${c.state}`);
      if (c.cpuPercent !== null && c.cpuPercent > limits.cpuPercent) findings.push(`resources: ${c.container} uses ${c.cpuPercent} % CPU`);
      if (c.memoryPercent !== null && c.memoryPercent > limits.memoryPercent) findings.push(`resources: ${c.container} uses ${c.memoryPercent} % of its memory limit`);
    }
  }
  for (const host of report.logErrors) {
    if (host.problem) findings.push(`logs on ${host.host}: ${host.problem}`);
    for (const c of host.containers.filter((c) => c.errors > 0)) {
      findings.push(`logs: ${c.container} logged ${c.errors} error line${c.errors === 1 ? '' : 's'} (first: ${c.samples[0] ?? '?'})`);
    }
  }
  for (const b of report.backups.filter((b) => b.stale)) findings.push(`backups: ${b.kind} ${b.source ?? ''} — ${b.problem ?? 'stale'}`);
  for (const f of report.security.failedLogins) {
    if (f.problem) findings.push(`security: ${f.node}: ${f.problem}`);
    if (f.failedLogins > 0) {
      findings.push(`security: ${f.failedLogins} failed PostgreSQL login${f.failedLogins === 1 ? '' : 's'} on ${f.node} (${Object.entries(f.byUser).map(([u, n]) => `${u}: ${n}`).join(', ')})`);
    }
  }
  const denied = report.security.denied;
  if (denied && denied.unauthorized + denied.forbidden > 0) {
    const top = denied.byClient.slice(0, 3).map((c) => `${c.client}: ${c.unauthorized + c.forbidden}`).join(', ');
    findings.push(`security: ${denied.unauthorized} × 401 and ${denied.forbidden} × 403 through nginx (most from ${top})`);
  }
  return findings;
}

/** The report for people: the guide's checklist in order, each line ✅ or ⚠️. */
export function renderInspectionMarkdown(r: InspectionReport): string {
  const ok = (good: boolean) => (good ? '✅' : '⚠️');
  const lines = [
    `# Daily inspection ${r.id}`,
    '',
    `${r.findings.length === 0 ? 'All clear.' : `${r.findings.length} finding${r.findings.length === 1 ? '' : 's'} need attention.`} Period: ${r.since} → ${r.finishedAt}.`,
    '',
    `## ${ok(r.health.overall === 'healthy')} Service health`,
    '',
    `${r.health.counts.up} up, ${r.health.counts.degraded} degraded, ${r.health.counts.down} down.`,
    ...r.health.problems.map((p) => `- ${p.kind} **${p.target}**: ${p.status}${p.reason ? ` — ${p.reason}` : ''}`),
    '',
    `## Resource use (docker stats)`,
    '',
    '| host | container | state | CPU % | memory | memory % |',
    '|---|---|---|---|---|---|',
    ...r.resources.flatMap((h) =>
      h.containers.map(
        (c) => `| ${h.host} | ${c.container} | ${c.state} | ${c.cpuPercent ?? '–'} | ${c.memoryBytes === null ? '–' : `${(c.memoryBytes / 1048576).toFixed(1)} MiB`} | ${c.memoryPercent ?? '–'} |`,
      ),
    ),
    ...r.resources.filter((h) => h.problem).map((h) => `- ⚠️ ${h.host}: ${h.problem}`),
    '',
    `## ${ok(r.logErrors.every((h) => !h.problem && h.containers.every((c) => c.errors === 0)))} Error logs since ${r.since}`,
    '',
    '| host | container | lines | errors |',
    '|---|---|---|---|',
    ...r.logErrors.flatMap((h) => h.containers.map((c) => `| ${h.host} | ${c.container} | ${c.lines} | ${c.errors} |`)),
    ...r.logErrors.flatMap((h) => h.containers.flatMap((c) => c.samples.map((s) => `- \`${c.container}\`: ${s.replace(/`/g, "'")}`))),
    '',
    `## ${ok(r.backups.every((b) => !b.stale))} Backups and restore drills`,
    '',
    '| kind | source | newest | age (h) | status |',
    '|---|---|---|---|---|',
    ...r.backups.map((b) => `| ${b.kind} | ${b.source ?? '–'} | ${b.latest?.id ?? '–'} | ${b.ageHours ?? '–'} | ${b.stale ? `⚠️ ${b.problem ?? 'stale'}` : 'ok'} |`),
    '',
    `## ${ok(r.security.failedLogins.every((f) => f.failedLogins === 0 && !f.problem) && (!r.security.denied || r.security.denied.unauthorized + r.security.denied.forbidden === 0))} Security events`,
    '',
    ...r.security.failedLogins.map(
      (f) => `- PostgreSQL ${f.node}: ${f.problem ?? `${f.failedLogins} failed login${f.failedLogins === 1 ? '' : 's'}${f.failedLogins ? ` (${Object.entries(f.byUser).map(([u, n]) => `${u}: ${n}`).join(', ')})` : ''}`}`,
    ),
    r.security.denied
      ? `- nginx: ${r.security.denied.unauthorized} × 401, ${r.security.denied.forbidden} × 403${r.security.denied.byClient.length ? ` — ${r.security.denied.byClient.slice(0, 10).map((c) => `${c.client}: ${c.unauthorized + c.forbidden}`).join(', ')}` : ''}`
      : '- nginx: no access log configured (loadBalancer.accessLog)',
    '',
    '## Findings',
    '',
    ...(r.findings.length ? r.findings.map((f) => `- ${f}`) : ['None.']),
    '',
  ];
  return lines.join('\n');
}
