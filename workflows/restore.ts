import { ApplicationFailure, executeChild, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { BackupManifest } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { runChange } from './change-control';
import { compareRowCounts } from './drill-report';
import { ErrorType } from './error-types';
import { RestoreInputSchema, type RestoreInput } from './inputs';
import { postgresBackupWorkflow, type BackupReport } from './postgres-backup';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);
const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const admin = proxyActivities<SharedActivities>(ActivityPresets.databaseAdmin);
const transfer = proxyActivities<SharedActivities>(ActivityPresets.transfer);

export interface RestoreReport {
  database: string;
  restoredFrom: string;
  /** The dump of the database as it was just before, taken first. */
  safetyBackup: string;
  /** The database as it was before the restore, kept under this name until someone drops it. */
  previousDatabaseKeptAs: string;
  appsRestarted: string[];
}

/**
 * The guide's manual restore (stop the apps, `gunzip | psql`, count rows, start the apps), made safe:
 * a managed change (approval, window, record) that checks the dump before touching anything, stops the
 * apps that use the database, takes a safety backup, restores into a new database beside the live one,
 * checks its row counts against the manifest, swaps it in by renaming (the old one is kept), restarts
 * the apps and waits until they are healthy. Any failure undoes it all in reverse: the old database is
 * renamed back, the half-restored one dropped, the apps started again.
 * @throws ApplicationFailure `UnknownTarget` for a database or backup that does not exist (nothing touched)
 */
export async function restoreWorkflow(input: RestoreInput = {}): Promise<RestoreReport> {
  const { database: requested, backupId, ...options } = parseInput(RestoreInputSchema, input);
  const topology = await probe.describeTopology();
  const databases = topology.postgres?.databases ?? [];
  const database = requested ?? databases[0];
  if (!database || !databases.includes(database)) {
    throw ApplicationFailure.nonRetryable(`unknown database ${requested} (backed-up databases: ${databases.join(', ')})`, ErrorType.UnknownTarget);
  }
  const dump = await chooseDump(database, backupId);
  const apps = topology.instances.filter((i) => i.usesDatabase);
  const queueOf = new Map(topology.hosts.map((h) => [h.name, h.taskQueue]));
  const onHostOf = (host: string) =>
    proxyActivities<HostActivities>({ ...ActivityPresets.hostProbe, startToCloseTimeout: '2 minutes', taskQueue: queueOf.get(host)! });
  const { workflowId, runId } = workflowInfo();
  const suffix = runId.replace(/-/g, '').slice(-6);
  const swap = { live: database, replacement: `${database}__restore_${suffix}`, keepAs: `${database}__before_${suffix}` };

  return runChange(
    { kind: 'restore', target: `postgres:${database}`, input, options },
    async (change) => {
      const verified = await change.check(`verify ${dump.id} against its manifest`, () => transfer.verifyBackupObject(dump));
      if (!verified.ok) throw ApplicationFailure.nonRetryable(`${dump.object.key}: ${verified.problem}`, ErrorType.ChecksumMismatch);

      for (const app of apps) {
        const onHost = onHostOf(app.host);
        await change.step(
          `stop ${app.containerName}`,
          () => onHost.stopContainer({ host: app.host, container: app.containerName, stopTimeoutSeconds: 30 }),
          () => onHost.startContainer({ host: app.host, container: app.containerName }),
        );
      }
      // No undo: a backup changes nothing.
      const safety = await change.step(
        `safety backup of ${database}`,
        () => executeChild(postgresBackupWorkflow, { workflowId: `${workflowId}/safety-backup`, args: [{ databases: [database] }] }),
        undefined,
        (report: BackupReport) => report.backups[0].id,
      );
      await change.step(
        `restore ${dump.id} into ${swap.replacement}`,
        () => transfer.restoreDumpIntoNewDatabase({ manifest: dump, database: swap.replacement }),
        () => admin.dropDatabase({ database: swap.replacement }),
      );
      const counts = await change.check(`count the rows of ${swap.replacement}`, () => transfer.countDatabaseRows({ database: swap.replacement }));
      const mismatches = compareRowCounts((dump.details.rowCounts ?? {}) as Record<string, number>, counts);
      if (mismatches.length > 0) {
        throw ApplicationFailure.nonRetryable(`the restored copy differs from the backup: ${mismatches.join('; ')}`, ErrorType.RestoreFailed);
      }
      await change.step(
        `swap ${swap.replacement} in as ${database}, keeping the old one as ${swap.keepAs}`,
        () => admin.swapDatabase(swap),
        () => admin.unswapDatabase(swap),
      );
      for (const app of apps) {
        const onHost = onHostOf(app.host);
        await change.step(
          `start ${app.containerName}`,
          () => onHost.startContainer({ host: app.host, container: app.containerName }),
          () => onHost.stopContainer({ host: app.host, container: app.containerName, stopTimeoutSeconds: 30 }),
        );
      }
      for (const app of apps) {
        const gate = proxyActivities<SharedActivities>({ ...ActivityPresets.healthGate, scheduleToCloseTimeout: Math.max(60_000, app.healthTimeoutMs * 20) });
        await change.check(`wait until ${app.containerName} is healthy`, () => gate.requireHealthy({ url: app.healthUrl, timeoutMs: app.healthTimeoutMs }));
      }
      return {
        database,
        restoredFrom: dump.id,
        safetyBackup: safety.backups[0].id,
        previousDatabaseKeptAs: swap.keepAs,
        appsRestarted: apps.map((a) => a.containerName),
      };
    },
    (report) =>
      `restored ${report.database} from ${report.restoredFrom} (safety backup ${report.safetyBackup}); the previous database is kept as ${report.previousDatabaseKeptAs}`,
  );
}

/** The dump named (which must be of `database`), or the newest complete one of it. */
async function chooseDump(database: string, backupId: string | undefined): Promise<BackupManifest> {
  const dumps = [...(await storage.listBackups('postgres')).complete].sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt));
  const ofDatabase = dumps.filter((m) => m.source.endsWith(`/${database}`));
  const chosen = backupId ? dumps.find((m) => m.id === backupId) : ofDatabase[0];
  if (!chosen) {
    throw ApplicationFailure.nonRetryable(
      backupId
        ? `no complete PostgreSQL backup "${backupId}" (newest of ${database}: ${ofDatabase.slice(0, 3).map((m) => m.id).join(', ') || 'none'})`
        : `no complete PostgreSQL backup of ${database} to restore`,
      ErrorType.UnknownTarget,
    );
  }
  if (!chosen.source.endsWith(`/${database}`)) {
    throw ApplicationFailure.nonRetryable(`backup ${chosen.id} is of ${chosen.source}, not of ${database}`, ErrorType.InvalidInput);
  }
  return chosen;
}
