import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { AlertRules, alertRuleIds, Priorities } from '../../workflows/alert-rules';

const root = resolve(__dirname, '../..');
const rulesPath = resolve(root, 'monitoring/prometheus/tego-ops-rules.yml');
const rulesTestPath = resolve(root, 'monitoring/prometheus/tego-ops-rules.test.yml');
const dashboardPath = resolve(root, 'monitoring/grafana/tego-ops-dashboard.json');
/** Where the worker's metrics are defined: the names every expression may use. */
const metricSources = ['activities/patrol-metrics.ts', 'workers/metrics.ts'];

interface AlertingRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RecordingRule {
  record: string;
  expr: string;
}
interface RuleFile {
  groups: { name: string; rules: (AlertingRule | RecordingRule)[] }[];
}
interface DataSourceRef {
  type?: string;
  uid?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: DataSourceRef;
  targets?: { expr?: string; refId: string; datasource?: DataSourceRef }[];
  panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query: string | { query: string } }[] };
}

/** Runs Debian's promtool; a missing one fails (never skips) with what to do about it. */
async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout } = await promisify(execFile)('promtool', args, { cwd: dirname(rulesPath) });
    return stdout;
  } catch (err) {
    const failure = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') {
      throw new Error('promtool is not installed: run scripts/setup.sh (it installs Debian\'s "prometheus" package, which ships /usr/bin/promtool)');
    }
    throw new Error(`promtool ${args.join(' ')} failed:\n${failure.stdout ?? ''}${failure.stderr ?? ''}`);
  }
}

/**
 * The metric names the worker defines, read from its source as text so that renaming a gauge there fails
 * this test until the rules and the dashboard follow. A histogram also serves `_bucket`, `_sum`, `_count`.
 */
async function definedMetricNames(): Promise<{ all: Set<string>; patrolGauges: string[] }> {
  const [patrolSource, workerSource] = await Promise.all(metricSources.map((f) => readFile(resolve(root, f), 'utf8')));
  const literals = (text: string) => [...text.matchAll(/['"](tego_[a-z0-9_]*[a-z0-9])['"]/g)].map((m) => m[1]);
  const histograms = [...`${patrolSource}\n${workerSource}`.matchAll(/new Histogram\(\{\s*name:\s*['"](tego_[a-z0-9_]+)['"]/g)].map((m) => m[1]);
  const all = new Set([...literals(patrolSource), ...literals(workerSource)]);
  for (const h of histograms) for (const suffix of ['_bucket', '_sum', '_count']) all.add(`${h}${suffix}`);
  return { all, patrolGauges: literals(patrolSource) };
}

/** tego metric (and recorded `tego:`) names an expression reads, ignoring string literals such as label values. */
function metricNamesIn(expr: string): string[] {
  const code = expr.replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""');
  return [...code.matchAll(/(?<![\w:])tego[_:][\w:]*/g)].map((m) => m[0]);
}

function flattenPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...flattenPanels(p.panels ?? [])]);
}

/** Every `datasource` reference anywhere in the dashboard, with where it is. */
function dataSourceRefs(node: unknown, path = '$'): { path: string; ref: unknown }[] {
  if (Array.isArray(node)) return node.flatMap((item, i) => dataSourceRefs(item, `${path}[${i}]`));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node as Record<string, unknown>).flatMap(([key, value]) => [
    ...(key === 'datasource' ? [{ path: `${path}.${key}`, ref: value }] : []),
    ...dataSourceRefs(value, `${path}.${key}`),
  ]);
}

const isAlert = (rule: AlertingRule | RecordingRule): rule is AlertingRule => 'alert' in rule;

let rules: RuleFile;
let dashboard: Dashboard;
let defined: Awaited<ReturnType<typeof definedMetricNames>>;

beforeAll(async () => {
  rules = parse(await readFile(rulesPath, 'utf8')) as RuleFile;
  dashboard = JSON.parse(await readFile(dashboardPath, 'utf8')) as Dashboard;
  defined = await definedMetricNames();
});

describe('monitoring/prometheus/tego-ops-rules.yml', () => {
  it('passes promtool check rules', async () => {
    expect(await promtool('check', 'rules', rulesPath)).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('passes its promtool unit tests', async () => {
    expect(await promtool('test', 'rules', rulesTestPath)).toContain('SUCCESS');
  });

  it('reads only metrics the worker defines, or that the file itself records', () => {
    expect(defined.all.size).toBeGreaterThan(20);
    const all = rules.groups.flatMap((g) => g.rules);
    const recorded = new Set(all.flatMap((r) => (isAlert(r) ? [] : [r.record])));
    for (const rule of all) {
      const name = isAlert(rule) ? rule.alert : rule.record;
      const used = metricNamesIn(rule.expr);
      expect(used, `${name} reads no tego metric`).not.toHaveLength(0);
      for (const metric of used) {
        expect(defined.all.has(metric) || recorded.has(metric), `${name} reads ${metric}, which neither ${metricSources.join(' nor ')} defines`).toBe(true);
      }
    }
  });

  it('reads every patrol gauge on the worker with the newest patrol only', () => {
    // Every worker keeps the gauges of the last patrol it ran: a gauge read without the filter would
    // judge an older worker's stale verdict.
    const filtered = new Set(defined.patrolGauges.filter((g) => g !== 'tego_patrol_last_run_timestamp_seconds'));
    const selector = /(tego_[a-z0-9_]+)(\{[^}]*\})?(\s+and\s+on\s*\(job,\s*instance\)\s+tego:patrol_latest_target\b)?/g;
    let reads = 0;
    for (const alert of rules.groups.flatMap((g) => g.rules).filter(isAlert)) {
      for (const [text, metric, , filter] of alert.expr.matchAll(selector)) {
        if (!filtered.has(metric)) continue;
        reads += 1;
        expect(filter, `${alert.alert} reads ${text} without "and on (job, instance) tego:patrol_latest_target"`).toBeTruthy();
      }
    }
    expect(reads).toBeGreaterThan(15);
  });

  it("has an alert for every rule of workflows/alert-rules.ts, with that rule's default priority", () => {
    const alerts = rules.groups.flatMap((g) => g.rules).filter(isAlert);
    for (const alert of alerts) {
      expect(alert.for, `${alert.alert} has no for:`).toMatch(/^\d+[smh]$/);
      expect(Priorities, `${alert.alert} priority`).toContain(alert.labels?.priority);
      expect(alert.labels?.rule, `${alert.alert} has no rule label`).toBeTruthy();
      expect(alert.annotations?.summary, `${alert.alert} has no summary`).toBeTruthy();
      expect(alert.annotations?.description, `${alert.alert} has no description`).toBeTruthy();
      const rule = alert.labels?.rule ?? '';
      if (rule in AlertRules) expect(alert.labels?.priority, `${alert.alert} (${rule})`).toBe(AlertRules[rule as keyof typeof AlertRules].priority);
    }
    const covered = new Set(alerts.map((a) => a.labels?.rule));
    expect(alertRuleIds.filter((id) => !covered.has(id))).toEqual([]);
  });
});

describe('monitoring/grafana/tego-ops-dashboard.json', () => {
  const queryPanels = () => flattenPanels(dashboard.panels).filter((p) => p.type !== 'row');
  const exprs = () => queryPanels().flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })));

  it('queries Prometheus through the ${datasource} variable only', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const refs = dataSourceRefs(dashboard);
    expect(refs.length).toBeGreaterThan(0);
    for (const { path, ref } of refs) expect(ref, path).toEqual({ type: 'prometheus', uid: '${datasource}' });
  });

  it('gives every panel targets with an expression', () => {
    expect(queryPanels().length).toBeGreaterThan(10);
    for (const panel of queryPanels()) {
      expect(panel.targets?.length ?? 0, `panel "${panel.title}" has no targets`).toBeGreaterThan(0);
      for (const target of panel.targets ?? []) expect(target.expr?.trim(), `panel "${panel.title}" target ${target.refId}`).toBeTruthy();
    }
  });

  it('reads only metrics the worker defines, and shows every patrol gauge', () => {
    const variableQueries = dashboard.templating.list.flatMap((v) => (v.type === 'query' ? [{ panel: `variable ${v.name}`, expr: typeof v.query === 'string' ? v.query : v.query.query }] : []));
    const used = new Set<string>();
    for (const { panel, expr } of [...exprs(), ...variableQueries]) {
      const names = metricNamesIn(expr);
      expect(names, `"${panel}": ${expr} reads no tego metric`).not.toHaveLength(0);
      for (const metric of names) {
        expect(defined.all.has(metric), `"${panel}" reads ${metric}, which neither ${metricSources.join(' nor ')} defines`).toBe(true);
        used.add(metric);
      }
    }
    expect(defined.patrolGauges.filter((g) => !used.has(g))).toEqual([]);
  });

  it('has expressions promtool parses', async () => {
    // Grafana's variables replaced by plausible values, each expression checked as a recording rule.
    const grafanaVariables: Record<string, string> = { $__rate_interval: '5m', $job: 'tego-ops', $instance: '.*' };
    const rulesOfExprs = {
      groups: [
        {
          name: 'dashboard',
          rules: exprs().map(({ expr }, i) => ({
            record: `dashboard_expr_${i}`,
            expr: expr.replace(/\$__rate_interval|\$job|\$instance/g, (v) => grafanaVariables[v]),
          })),
        },
      ],
    };
    const dir = await mkdtemp(join(tmpdir(), 'tego-dashboard-'));
    try {
      const file = join(dir, 'dashboard-exprs.yml');
      await writeFile(file, stringify(rulesOfExprs));
      expect(await promtool('check', 'rules', file)).toContain('SUCCESS');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
