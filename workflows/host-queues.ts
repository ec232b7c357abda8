import { proxyActivities } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import { ActivityPresets } from './activity-options';

/**
 * Activities on one host's queue (its Docker engine, its files, its nginx) for steps that change
 * things: a short start-to-close, so a worker that dies mid-step is noticed within a minute and the
 * step retried on its successor.
 */
export function onHostQueue(taskQueue: string) {
  return proxyActivities<HostActivities>({ ...ActivityPresets.hostProbe, startToCloseTimeout: '1 minute', taskQueue });
}

/** Writes to the inventory file (roles, placement): quick, retried for minutes. */
export const inventoryWrites = proxyActivities<SharedActivities>(ActivityPresets.databaseAdmin);
