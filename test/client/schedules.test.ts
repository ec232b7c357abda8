import { afterAll, describe, expect, it } from 'vitest';
import type { BackupAllReport } from '../../workflows/backup-all';
import { tegoOps } from '../harness/cli';
import { waitUntil } from '../harness/daemon';
import { useSandbox } from '../harness/suite';
import { RunSearchAttributes } from '../../workflows/run-labels';

const suite = useSandbox();
const { sandbox } = suite;
const scheduleIds = [
  'tego-backup-daily',
  'tego-backup-retention-daily',
  'tego-backup-verify-daily',
  'tego-backup-base-daily',
  'tego-wal-archive',
  'tego-health-patrol',
  'tego-daily-inspection',
  'tego-restore-drill-monthly',
  'tego-backup-offsite-daily',
];
// Runs before the suite's own teardown (hooks unwind in reverse), while its client is open.
afterAll(async () => {
  for (const id of scheduleIds) await suite.client.schedule.getHandle(id).delete().catch(() => undefined);
  // The watchdogs may have fired meanwhile; the archiver, the patrol and incidents it opened must not outlive this file.
  const leftovers = `(WorkflowId STARTS_WITH 'tego-wal-archive' OR WorkflowId STARTS_WITH 'tego-health-patrol' OR TegoKind = 'incident') AND ExecutionStatus = 'Running'`;
  for await (const run of suite.client.workflow.list({ query: leftovers })) {
    await suite.client.workflow.getHandle(run.workflowId, run.runId).terminate('schedules test finished').catch(() => undefined);
  }
});

async function serverScheduleIds(): Promise<string[]> {
  const ids: string[] = [];
  for await (const schedule of suite.client.schedule.list()) ids.push(schedule.scheduleId);
  return ids.sort();
}

describe('tego-ops schedules', () => {
  it('applies the backup schedules idempotently: created once, updated after, never duplicated', async () => {
    const first = await tegoOps(sandbox, ['schedules', 'apply']);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/tego-backup-daily\s+created/);
    const second = await tegoOps(sandbox, ['schedules', 'apply']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/tego-backup-daily\s+updated/);
    await waitUntil(async () => (await serverScheduleIds()).length === scheduleIds.length, 30_000, 500, 'the schedule list to show them');
    expect(await serverScheduleIds()).toEqual([...scheduleIds].sort());

    const daily = await suite.client.schedule.getHandle('tego-backup-daily').describe();
    expect(daily.policies).toMatchObject({ overlap: 'SKIP', pauseOnFailure: false });
    expect(daily.spec.timezone).toBe('UTC');
    expect(daily.spec.calendars?.[0]).toMatchObject({ hour: [{ start: 2, end: 2, step: 1 }], minute: [{ start: 0, end: 0, step: 1 }] });
    const drill = await suite.client.schedule.getHandle('tego-restore-drill-monthly').describe();
    expect(drill.spec.calendars?.[0]).toMatchObject({ dayOfMonth: [{ start: 1, end: 1, step: 1 }], hour: [{ start: 5, end: 5, step: 1 }] });
    const retention = await suite.client.schedule.getHandle('tego-backup-retention-daily').describe();
    expect(retention.policies.pauseOnFailure).toBe(true);
  });

  it('lists next runs', async () => {
    const { code, stdout } = await tegoOps(sandbox, ['schedules', 'list', '--json']);
    expect(code).toBe(0);
    const list = JSON.parse(stdout) as { id: string; nextRuns: string[]; paused: boolean }[];
    expect(list.map((s) => s.id)).toEqual(scheduleIds);
    for (const schedule of list) {
      expect(schedule.paused).toBe(false);
      expect(Date.parse(schedule.nextRuns[0])).toBeGreaterThan(Date.now());
    }
  });

  it('runs a backup when the daily schedule is triggered by hand, labelled as the schedule\'s', async () => {
    const handle = suite.client.schedule.getHandle('tego-backup-daily');
    const triggered = await tegoOps(sandbox, ['schedules', 'trigger', 'tego-backup-daily']);
    expect(triggered).toMatchObject({ code: 0, stdout: 'trigger: tego-backup-daily\n' });
    let started: { workflowId: string; firstExecutionRunId: string } | undefined;
    await waitUntil(
      async () => {
        const action = (await handle.describe()).info.recentActions.at(-1)?.action;
        started = action ? { workflowId: action.workflow.workflowId, firstExecutionRunId: action.workflow.firstExecutionRunId } : undefined;
        return started !== undefined;
      },
      30_000,
      250,
      'the schedule to start a run',
    );
    const report = (await suite.client.workflow.getHandle(started!.workflowId, started!.firstExecutionRunId).result()) as BackupAllReport;
    expect(started!.workflowId).toMatch(/^tego-backup-daily-/);
    expect(report.failed).toEqual([]);
    expect(report.backups.map((b) => b.kind).sort()).toEqual(['config', 'config', 'postgres', 'redis']);
    const run = await suite.client.workflow.getHandle(started!.workflowId, started!.firstExecutionRunId).describe();
    expect(run.typedSearchAttributes.get(RunSearchAttributes.kind)).toBe('backup-all');
    expect(run.typedSearchAttributes.get(RunSearchAttributes.requestedBy)).toBe('schedule:tego-backup-daily');
  });

  it('pauses, unpauses and deletes a schedule by name; an unknown name is bad input', async () => {
    const paused = await tegoOps(sandbox, ['schedules', 'pause', 'tego-backup-verify-daily', '--note', 'disk swap tonight']);
    expect(paused.code).toBe(0);
    const described = await suite.client.schedule.getHandle('tego-backup-verify-daily').describe();
    expect(described.state).toMatchObject({ paused: true, note: 'disk swap tonight' });
    expect(await tegoOps(sandbox, ['schedules', 'unpause', 'tego-backup-verify-daily'])).toMatchObject({ code: 0 });
    expect((await suite.client.schedule.getHandle('tego-backup-verify-daily').describe()).state.paused).toBe(false);

    const unknown = await tegoOps(sandbox, ['schedules', 'pause', 'tego-backup-weekly']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no schedule "tego-backup-weekly" on the server \(schedules: tego-backup-base-daily, tego-backup-daily, /);

    expect(await tegoOps(sandbox, ['schedules', 'delete', 'tego-backup-offsite-daily'])).toMatchObject({ code: 0 });
    await waitUntil(async () => !(await serverScheduleIds()).includes('tego-backup-offsite-daily'), 30_000, 500, 'the schedule to go');
  });
});
