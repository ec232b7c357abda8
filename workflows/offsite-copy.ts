import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';
import { ErrorType } from './error-types';
import { OffsiteCopyInputSchema, type OffsiteCopyInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';
import { allBackupKinds } from '../inventory/backup-catalog';

const storage = proxyActivities<SharedActivities>(ActivityPresets.storage);
const transfer = proxyActivities<SharedActivities>(ActivityPresets.transfer);
const probe = proxyActivities<SharedActivities>(ActivityPresets.probe);

/**
 * The guide's 异地备份: every complete backup not yet in the off-site bucket is copied there,
 * checksum-checked, manifest last. Idempotent: a second run copies nothing.
 */
export async function offsiteCopyWorkflow(input: OffsiteCopyInput = {}): Promise<{ copied: string[]; alreadyThere: number }> {
  const { kinds } = parseInput(OffsiteCopyInputSchema, input);
  const progress = beginRun({ kind: 'backup-offsite', target: kinds?.join(',') ?? 'all' });
  const { backup } = await probe.describeTopology();
  if (!backup.offsite) {
    throw ApplicationFailure.nonRetryable('no off-site bucket is configured (backup.offsite)', ErrorType.InvalidInput);
  }
  const copied: string[] = [];
  let alreadyThere = 0;
  for (const kind of kinds ?? allBackupKinds) {
    const { complete } = await storage.listBackups(kind);
    for (const manifest of complete) {
      if (await progress.step(`copy ${kind}/${manifest.id}`, () => transfer.copyBackupOffsite(manifest), (c) => (c ? 'copied' : 'already there'))) {
        copied.push(`${kind}/${manifest.id}`);
      }
      else alreadyThere += 1;
    }
  }
  return { copied, alreadyThere };
}
