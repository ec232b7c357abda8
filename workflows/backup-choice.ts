import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { BackupManifest } from '../inventory/backup-catalog';
import { ActivityPresets } from './activity-options';
import { ErrorType } from './error-types';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);

/** Newest first, by when they finished. */
export const newestFirst = (manifests: BackupManifest[]) => [...manifests].sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt));

/** The newest base backup finished before `targetTime`: the one WAL replay starts from. */
export async function chooseBaseBackup(targetTime: string, now: Date): Promise<BackupManifest> {
  if (Date.parse(targetTime) > now.getTime()) {
    throw ApplicationFailure.nonRetryable(`target time ${targetTime} is in the future`, ErrorType.TargetOutsideWal);
  }
  const bases = newestFirst((await storage.listBackups('basebackup')).complete);
  const base = bases.find((m) => Date.parse(m.finishedAt) <= Date.parse(targetTime));
  if (!base) {
    const oldest = bases.at(-1);
    throw ApplicationFailure.nonRetryable(
      `no base backup finished before ${targetTime}${oldest ? ` (the oldest finished at ${oldest.finishedAt})` : ' (there are none)'}: outside the recovery window`,
      ErrorType.TargetOutsideWal,
    );
  }
  return base;
}
