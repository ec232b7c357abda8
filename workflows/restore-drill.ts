import { ApplicationFailure, CancellationScope, isCancellation, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { BackupManifest } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { compareRowCounts, type DrillReport } from './drill-report';
import { ErrorType } from './error-types';
import { rootMessage } from './failures';
import { RestoreDrillInputSchema, type RestoreDrillInput } from './inputs';
import { chooseBaseBackup, newestFirst } from './backup-choice';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);
const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);


/**
 * The guide's monthly 备份恢复演练, automated: restores the newest backups (or the one named, or a moment
 * in time) into scratch instances on the drill host — never in place — and proves them: checksums in the
 * stream, pg_restore, every table's row count equal to the manifest's, the inventory's SQL assertions,
 * Redis's key count. Reports RTO and RPO, stores the report in the bucket, and always removes the scratch
 * instances, whatever happens.
 * @throws ApplicationFailure `DrillFailed` (with the report as details) when any check fails
 * @throws ApplicationFailure `UnknownTarget` / `TargetOutsideWal` for a backup or time that cannot be drilled
 */
export async function restoreDrillWorkflow(input: RestoreDrillInput = {}): Promise<DrillReport> {
  const { backupId, targetTime, redis, assertions: extra } = parseInput(RestoreDrillInputSchema, input);
  const progress = beginRun({ kind: 'restore-drill', target: backupId ?? (targetTime ? `pitr:${targetTime}` : 'newest') });
  const topology = await probe.describeTopology();
  if (!topology.restore) throw ApplicationFailure.nonRetryable('no drill host: the inventory has no postgres primary nor restore.drillHost', ErrorType.UnknownTarget);
  const { drillHost, drillTaskQueue } = topology.restore;
  const started = new Date();

  // What to restore: decided, and refused if impossible, before anything is started.
  const dumps = targetTime ? [] : await chooseDumps(backupId, topology.postgres?.databases ?? []);
  const base = targetTime ? await chooseBaseBackup(targetTime, started) : null;
  const redisBackup = redis && topology.redis ? newestFirst((await storage.listBackups('redis')).complete)[0] : undefined;

  const { runId } = workflowInfo();
  const drillId = `drill-${started.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${runId.replace(/-/g, '').slice(-6)}`;
  const onDrillHost = proxyActivities<HostActivities>({ ...ActivityPresets.transfer, taskQueue: drillTaskQueue, scheduleToStartTimeout: '5 minutes' });
  const report: DrillReport = {
    drillId,
    host: drillHost,
    startedAt: started.toISOString(),
    finishedAt: '',
    ok: false,
    rtoSeconds: null,
    rpoSeconds: null,
    postgres: [],
    pitr: null,
    redis: null,
    problems: [],
  };
  let cancelled: Error | undefined;
  const ageSeconds = (at: string | Date) => Math.round((started.getTime() - new Date(at).getTime()) / 1000);

  try {
    for (const dump of dumps) {
      await progress.step(`start a scratch PostgreSQL on ${drillHost}`, () =>
        onDrillHost.startScratchPostgres({ drillId, manifest: dump }),
      );
      const restored = await progress.step(`restore ${dump.id} into it`, () => onDrillHost.restoreDumpToScratch({ drillId, manifest: dump }), (r) => `${r.seconds.toFixed(1)} s`);
      const actual = await progress.step(`count the rows of ${restored.database}`, () => onDrillHost.countScratchRows({ drillId, database: restored.database }));
      const assertions = await progress.step(`run the assertions on ${restored.database}`, () => onDrillHost.runScratchAssertions({ drillId, database: restored.database, extra }));
      const rowMismatches = compareRowCounts((dump.details.rowCounts ?? {}) as Record<string, number>, actual);
      report.postgres.push({ backupId: dump.id, database: restored.database, restoreSeconds: restored.seconds, bytesRead: restored.bytesRead, tables: Object.keys(actual).length, rowMismatches, assertions });
      report.problems.push(...rowMismatches.map((m) => `${restored.database}: ${m}`), ...assertions.filter((a) => !a.ok).map((a) => `${restored.database}: assertion ${a.sql} returned ${a.value}`));
      report.rpoSeconds = Math.max(report.rpoSeconds ?? 0, ageSeconds(dump.finishedAt));
    }
    if (base && targetTime) {
      const recovered = await progress.step(`recover ${base.id} + WAL to ${targetTime} on ${drillHost}`, () =>
        onDrillHost.recoverScratchToTime({ drillId, manifest: base, targetTime }),
      );
      const database = topology.postgres?.databases[0] ?? 'postgres';
      const assertions = await progress.step(`run the assertions on ${database}`, () => onDrillHost.runScratchAssertions({ drillId, database, extra }));
      report.pitr = { baseBackupId: base.id, targetTime, walSegments: recovered.walSegments, assertions };
      report.problems.push(...assertions.filter((a) => !a.ok).map((a) => `${database}: assertion ${a.sql} returned ${a.value}`));
      report.rpoSeconds = ageSeconds(targetTime);
    }
    if (redisBackup) {
      const loaded = await progress.step(`load ${redisBackup.id} into a scratch Redis`, () => onDrillHost.restoreRedisToScratch({ drillId, manifest: redisBackup }));
      const expectedKeys = Number(redisBackup.details.keys);
      report.redis = { backupId: redisBackup.id, expectedKeys, keys: loaded.keys };
      if (loaded.keys !== expectedKeys) report.problems.push(`redis: ${expectedKeys} keys in the backup, ${loaded.keys} loaded`);
    }
    report.rtoSeconds = Math.round((Date.now() - started.getTime()) / 100) / 10;
  } catch (err) {
    report.problems.push(isCancellation(err) ? 'cancelled' : rootMessage(err));
    cancelled = isCancellation(err) ? (err as Error) : undefined;
  } finally {
    // Always, even when cancelled: a drill leaves nothing running.
    await CancellationScope.nonCancellable(() => progress.step(`remove the scratch instances on ${drillHost}`, () => onDrillHost.dropScratch({ drillId })));
  }
  report.finishedAt = new Date().toISOString();
  report.ok = report.problems.length === 0;
  await CancellationScope.nonCancellable(() => progress.step('store the drill report', () => storage.writeDrillReport(report)));
  if (cancelled) throw cancelled;
  if (!report.ok) {
    throw ApplicationFailure.create({
      message: `restore drill ${drillId} failed: ${report.problems.join('; ')}`,
      type: ErrorType.DrillFailed,
      nonRetryable: true,
      details: [report],
    });
  }
  return report;
}

/** The dump named, or the newest complete dump of each database. */
async function chooseDumps(backupId: string | undefined, databases: string[]): Promise<BackupManifest[]> {
  const { complete } = await storage.listBackups('postgres');
  if (backupId) {
    const named = complete.find((m) => m.id === backupId);
    if (!named) {
      const recent = newestFirst(complete).slice(0, 3).map((m) => m.id);
      throw ApplicationFailure.nonRetryable(`no complete PostgreSQL backup "${backupId}" (newest: ${recent.join(', ') || 'none'})`, ErrorType.UnknownTarget);
    }
    return [named];
  }
  const chosen = databases.map((db) => newestFirst(complete).find((m) => m.source.endsWith(`/${db}`)));
  const missing = databases.filter((_, i) => !chosen[i]);
  if (missing.length > 0) throw ApplicationFailure.nonRetryable(`no complete PostgreSQL backup of ${missing.join(', ')} to drill`, ErrorType.UnknownTarget);
  return chosen as BackupManifest[];
}
