import { ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import { backupId } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { describeStored, configManifest, summarizeBackup, type BackupSummary } from './backup-manifest';
import { ErrorType } from './error-types';
import { ConfigBackupInputSchema, type ConfigBackupInput } from './inputs';
import type { BackupReport } from './postgres-backup';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

/** The guide's config backup: per host, an encrypted tar.gz of its configured paths, then its manifest. */
export async function configBackupWorkflow(input: ConfigBackupInput = {}): Promise<BackupReport> {
  const { hosts } = parseInput(ConfigBackupInputSchema, input);
  const progress = beginRun({ kind: 'backup-config', target: hosts?.join(',') ?? 'all' });
  const topology = await probe.describeTopology();
  const targets = topology.configBackupHosts.filter((h) => !hosts || hosts.includes(h.name));
  const unknown = (hosts ?? []).filter((name) => !topology.configBackupHosts.some((h) => h.name === name));
  if (unknown.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `no config paths are configured for host(s) ${unknown.join(', ')} (backup.configPaths has: ${topology.configBackupHosts.map((h) => h.name).join(', ') || 'none'})`,
      ErrorType.UnknownTarget,
    );
  }
  const { workflowId, runId, startTime } = workflowInfo();
  const backups: BackupSummary[] = [];
  for (const host of targets) {
    const onHost = proxyActivities<HostActivities>({ ...ActivityPresets.transfer, taskQueue: host.taskQueue });
    const id = backupId(host.name, startTime, runId);
    const backup = await progress.step(`archive and encrypt the files of ${host.name}`, () => onHost.backupConfigFiles({ host: host.name, backupId: id }), describeStored);
    const manifest = configManifest(id, backup, { workflowId, runId });
    await progress.step(`write the manifest of ${id}`, () => storage.writeBackupManifest(manifest));
    backups.push(summarizeBackup(manifest));
  }
  return { backups };
}
