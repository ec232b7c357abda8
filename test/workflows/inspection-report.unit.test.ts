import { describe, expect, it } from 'vitest';
import { findingsOf, renderInspectionMarkdown, type InspectionReport } from '../../workflows/inspection-report';

const clean: Omit<InspectionReport, 'findings'> = {
  id: '20261205T083000Z',
  startedAt: '2026-12-05T08:30:00.000Z',
  finishedAt: '2026-12-05T08:30:09.000Z',
  since: '2026-12-04T08:30:10.000Z',
  health: { overall: 'healthy', counts: { up: 12, degraded: 0, down: 0 }, problems: [] },
  resources: [{ host: 'host1', containers: [{ container: 'tego-os-host1-1', service: 'tego-os', state: 'running', cpuPercent: 3.2, memoryBytes: 52428800, memoryLimitBytes: 1073741824, memoryPercent: 4.9 }] }],
  logErrors: [{ host: 'host1', containers: [{ container: 'tego-os-host1-1', service: 'tego-os', lines: 120, errors: 0, samples: [] }] }],
  backups: [{ kind: 'postgres', source: 'postgres://pg1/tego_engine', latest: { id: 'b1', finishedAt: '2026-12-05T02:00:30Z', size: 1 }, ageHours: 6.5, complete: 30, incomplete: 0, stale: false }],
  security: { failedLogins: [{ node: 'pg1', logFile: '/var/log/pg.log', failedLogins: 0, byUser: {}, samples: [] }], denied: { unauthorized: 0, forbidden: 0, byClient: [] } },
};

describe('the daily inspection report', () => {
  it('finds nothing in a clean day and says so', () => {
    expect(findingsOf(clean)).toEqual([]);
    const markdown = renderInspectionMarkdown({ ...clean, findings: [] });
    expect(markdown).toContain('# Daily inspection 20261205T083000Z');
    expect(markdown).toContain('All clear.');
    expect(markdown).toContain('| host1 | tego-os-host1-1 | running | 3.2 | 50.0 MiB | 4.9 |');
  });

  it('lists each thing that needs a person, one line each', () => {
    const day: Omit<InspectionReport, 'findings'> = {
      ...clean,
      health: { overall: 'unhealthy', counts: { up: 11, degraded: 0, down: 1 }, problems: [{ kind: 'app', target: 'tego-mcp-host2-1', status: 'down', reason: 'HTTP 500' }] },
      logErrors: [{ host: 'host1', containers: [{ container: 'tego-os-host1-1', service: 'tego-os', lines: 120, errors: 2, samples: ['ERROR db timeout'] }] }],
      backups: [{ ...clean.backups[0], stale: true, problem: 'newest is 30 h old, over 26 h' }],
      security: {
        failedLogins: [{ node: 'pg1', logFile: '/var/log/pg.log', failedLogins: 4, byUser: { admin: 3, root: 1 }, samples: [] }],
        denied: { unauthorized: 7, forbidden: 1, byClient: [{ client: '203.0.113.9', unauthorized: 7, forbidden: 1 }] },
      },
    };
    expect(findingsOf(day)).toEqual([
      'health: app tego-mcp-host2-1 is down — HTTP 500',
      'logs: tego-os-host1-1 logged 2 error lines (first: ERROR db timeout)',
      'backups: postgres postgres://pg1/tego_engine — newest is 30 h old, over 26 h',
      'security: 4 failed PostgreSQL logins on pg1 (admin: 3, root: 1)',
      'security: 7 × 401 and 1 × 403 through nginx (most from 203.0.113.9: 8)',
    ]);
    expect(renderInspectionMarkdown({ ...day, findings: findingsOf(day) })).toContain('5 findings need attention.');
  });
});
