import { proxyActivities } from '@temporalio/workflow';
import type { SharedActivities } from '../activities';
import type { ChangeRecord } from '../activities/change-records';
import { ActivityPresets } from './activity-options';
import { ChangesInputSchema, type ChangesInput } from './inputs';
import { beginRun } from './run-labels';
import { parseInput } from './validate-input';

const records = proxyActivities<SharedActivities>(ActivityPresets.record);

/** The change log, newest first: what `tego-ops changes` shows. Reads only. */
export async function changesWorkflow(input: ChangesInput = {}): Promise<ChangeRecord[]> {
  const query = parseInput(ChangesInputSchema, input);
  beginRun({ kind: 'changes', target: query.changeId ?? query.target ?? query.kind ?? 'all' });
  return records.listChangeRecords(query);
}
