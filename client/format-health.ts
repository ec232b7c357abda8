import type { HealthReport } from '../workflows/health-report';
import { formatTable } from './format-table';

/** The health report as a table a person can scan: one component a line, problems spelled out. */
export function formatHealthReport(report: HealthReport): string {
  const rows = report.components.map((c) => [
    c.kind,
    c.target,
    c.status.toUpperCase(),
    `${c.latencyMs} ms`,
    c.reason ?? summarizeDetail(c.detail),
  ]);
  const { up, degraded, down } = report.counts;
  return [
    formatTable(['COMPONENT', 'TARGET', 'STATUS', 'LATENCY', 'DETAIL'], rows),
    '',
    `${report.overall.toUpperCase()}: ${up} up, ${degraded} degraded, ${down} down (checked ${report.checkedAt})`,
  ].join('\n');
}

function summarizeDetail(detail: Record<string, unknown>): string {
  const keys = ['role', 'version', 'serverVersion', 'lagBytes', 'connections', 'memoryPercent', 'state', 'engineVersion'];
  return keys
    .filter((k) => detail[k] !== undefined && detail[k] !== null)
    .map((k) => `${k}=${String(detail[k])}`)
    .join(' ');
}
