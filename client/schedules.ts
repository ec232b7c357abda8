import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Inventory } from '../inventory/schema';
import { RunSearchAttributes } from '../workflows/run-labels';
import { InvalidInputError } from './ops-client';
import { kindOfWorkflowType } from './workflow-kinds';

/** One schedule tego-ops keeps on the server, described declaratively. */
export interface ScheduleDefinition {
  id: string;
  description: string;
  workflowType: string;
  input: unknown;
  /** Clock time HH:MM in the inventory's time zone, daily; monthly on a day at a time; or an interval, for watchdogs. */
  at: string | { monthlyOnDay: number; at: string } | { every: string };
  /** Pause the schedule when a run fails, for jobs whose next run would repeat the damage. */
  pauseOnFailure: boolean;
}

/**
 * The guide's 备份策略 as schedules: full backup (PostgreSQL, Redis, config) daily at 02:00, then
 * retention and a verification of the newest backups.
 */
export function scheduleDefinitions(inventory: Inventory): ScheduleDefinition[] {
  const [hour, minute] = inventory.schedules.dailyBackupAt.split(':').map(Number);
  const later = (minutes: number) => {
    const total = (hour * 60 + minute + minutes) % (24 * 60);
    return `${String(Math.floor(total / 60)).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`;
  };
  const definitions: ScheduleDefinition[] = [
    {
      id: 'tego-backup-daily',
      description: 'daily full backup: PostgreSQL, Redis, config files',
      workflowType: 'backupAllWorkflow',
      input: {},
      at: inventory.schedules.dailyBackupAt,
      // A failed night must not stop the next night's backup.
      pauseOnFailure: false,
    },
    {
      id: 'tego-backup-retention-daily',
      description: 'delete backups past their retention, keeping the floor',
      workflowType: 'backupRetentionWorkflow',
      input: { requestedBy: 'schedule:tego-backup-retention-daily' },
      at: later(90),
      // Deleting is the one job whose failure should stop it until a person has looked.
      pauseOnFailure: true,
    },
    {
      id: 'tego-backup-verify-daily',
      description: 're-read the newest backups and check them against their manifests',
      workflowType: 'backupVerifyWorkflow',
      input: { latestOnly: true },
      at: later(120),
      pauseOnFailure: false,
    },
  ];
  if (inventory.backup.walArchive.enabled) {
    definitions.push(
      {
        id: 'tego-backup-base-daily',
        description: 'daily base backup, the starting point of point-in-time recovery',
        workflowType: 'baseBackupWorkflow',
        input: {},
        at: later(30),
        pauseOnFailure: false,
      },
      {
        id: 'tego-wal-archive',
        // With overlap SKIP, this starts the archiver only when none is running: it keeps one alive.
        description: 'keep the WAL archiver running (starts it if it is not)',
        workflowType: 'walArchiveWorkflow',
        input: {},
        at: { every: '5 minutes' },
        pauseOnFailure: false,
      },
    );
  }
  definitions.push(
    {
      id: 'tego-health-patrol',
      // Like the WAL archiver: overlap SKIP starts the patrol only when none is running.
      description: 'keep the health patrol running (starts it if it is not)',
      workflowType: 'healthPatrolWorkflow',
      input: {},
      at: { every: '5 minutes' },
      pauseOnFailure: false,
    },
    {
      id: 'tego-daily-inspection',
      description: "the guide's daily checklist as a report in the bucket, summary by notification",
      workflowType: 'dailyInspectionWorkflow',
      input: {},
      at: inventory.schedules.dailyInspectionAt,
      pauseOnFailure: false,
    },
  );
  if (inventory.postgres) {
    definitions.push({
      id: 'tego-restore-drill-monthly',
      // The guide's 备份恢复演练, monthly: after the night's backups, so the drill proves the newest.
      description: 'monthly restore drill: restore the newest backups into scratch instances and prove them',
      workflowType: 'restoreDrillWorkflow',
      input: {},
      at: { monthlyOnDay: 1, at: later(180) },
      pauseOnFailure: false,
    });
  }
  if (inventory.backup.offsite) {
    definitions.push({
      id: 'tego-backup-offsite-daily',
      description: 'copy new backups to the off-site bucket',
      workflowType: 'offsiteCopyWorkflow',
      input: {},
      at: later(60),
      pauseOnFailure: false,
    });
  }
  return definitions;
}

function toScheduleOptions(definition: ScheduleDefinition, inventory: Inventory): ScheduleOptions {
  const clock = (hhmm: string) => ({ hour: Number(hhmm.slice(0, 2)), minute: Number(hhmm.slice(3)), comment: definition.description });
  const { at } = definition;
  const spec =
    typeof at === 'string'
      ? { calendars: [clock(at)], timezone: inventory.schedules.timeZone }
      : 'monthlyOnDay' in at
        ? { calendars: [{ ...clock(at.at), dayOfMonth: at.monthlyOnDay }], timezone: inventory.schedules.timeZone }
        : { intervals: [{ every: at.every }] };
  return {
    scheduleId: definition.id,
    spec,
    action: {
      type: 'startWorkflow',
      workflowType: definition.workflowType,
      args: [definition.input],
      taskQueue: inventory.temporal.taskQueue,
      workflowId: definition.id,
      typedSearchAttributes: [
        { key: RunSearchAttributes.kind, value: kindOfWorkflowType(definition.workflowType) ?? definition.workflowType },
        { key: RunSearchAttributes.requestedBy, value: `schedule:${definition.id}` },
      ],
      staticSummary: `${definition.description} (schedule ${definition.id})`,
    },
    policies: {
      overlap: ScheduleOverlapPolicy.SKIP,
      catchupWindow: '1 hour',
      pauseOnFailure: definition.pauseOnFailure,
    },
    memo: { description: definition.description },
  };
}

/**
 * Creates each schedule, or updates it to the definition if it exists: running it twice changes
 * nothing and never duplicates. A pause set by hand is kept.
 * @returns what was done to each schedule
 */
export async function applySchedules(client: Client, inventory: Inventory): Promise<{ id: string; action: 'created' | 'updated' }[]> {
  const results: { id: string; action: 'created' | 'updated' }[] = [];
  for (const definition of scheduleDefinitions(inventory)) {
    const options = toScheduleOptions(definition, inventory);
    const handle = client.schedule.getHandle(definition.id);
    try {
      await handle.describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await client.schedule.create(options);
      results.push({ id: definition.id, action: 'created' });
      continue;
    }
    await handle.update((previous) => ({
      ...previous,
      spec: options.spec,
      action: options.action,
      policies: { ...previous.policies, ...options.policies },
    }));
    results.push({ id: definition.id, action: 'updated' });
  }
  return results;
}

export interface ScheduleStatus {
  id: string;
  workflowType: string;
  paused: boolean;
  nextRuns: string[];
  lastRun: string | null;
}

/** The schedules tego-ops defines, as the server has them, with their next run times. */
export async function listSchedules(client: Client, inventory: Inventory): Promise<ScheduleStatus[]> {
  const statuses: ScheduleStatus[] = [];
  for (const definition of scheduleDefinitions(inventory)) {
    const description = await client.schedule
      .getHandle(definition.id)
      .describe()
      .catch((err: unknown) => {
        if (err instanceof ScheduleNotFoundError) return undefined;
        throw err;
      });
    if (!description) continue;
    const recent = description.info.recentActions.at(-1);
    statuses.push({
      id: definition.id,
      workflowType: definition.workflowType,
      paused: description.state.paused,
      nextRuns: description.info.nextActionTimes.slice(0, 3).map((d) => d.toISOString()),
      lastRun: recent ? recent.takenAt.toISOString() : null,
    });
  }
  return statuses;
}

/** The handle of a schedule tego-ops defines, or a clear error naming the ones there are. */
async function existingSchedule(client: Client, id: string) {
  const handle = client.schedule.getHandle(id);
  try {
    await handle.describe();
  } catch (err) {
    if (!(err instanceof ScheduleNotFoundError)) throw err;
    const known: string[] = [];
    for await (const schedule of client.schedule.list()) known.push(schedule.scheduleId);
    throw new InvalidInputError([`no schedule "${id}" on the server (schedules: ${known.sort().join(', ') || 'none; run `tego-ops schedules apply`'})`]);
  }
  return handle;
}

export async function pauseSchedule(client: Client, id: string, note: string): Promise<void> {
  await (await existingSchedule(client, id)).pause(note);
}

export async function unpauseSchedule(client: Client, id: string, note: string): Promise<void> {
  await (await existingSchedule(client, id)).unpause(note);
}

/** Runs the schedule's workflow now, as if its time had come; SKIP still applies if one is running. */
export async function triggerSchedule(client: Client, id: string): Promise<void> {
  await (await existingSchedule(client, id)).trigger();
}

export async function deleteSchedule(client: Client, id: string): Promise<void> {
  await (await existingSchedule(client, id)).delete();
}
