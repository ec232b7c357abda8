import type { RetentionRule } from '../inventory/schema';

/** A complete backup as retention sees it. */
export interface RetainedCandidate {
  id: string;
  finishedAt: string;
}

export interface RetentionDecision {
  id: string;
  action: 'keep' | 'delete';
  reason: string;
}

const hour = 3600 * 1000;
const day = 24 * hour;

/**
 * Which complete backups of one kind to keep, newest first: the newest always; then at least
 * `minCount` whatever their age (minimum redundancy); beyond that, delete what is past `maxCount`
 * or older than `days`. Pure, so the choice is unit-tested and replayed exactly.
 */
export function planRetention(backups: RetainedCandidate[], rule: RetentionRule, now: Date): RetentionDecision[] {
  const newestFirst = [...backups].sort((a, b) => Date.parse(b.finishedAt) - Date.parse(a.finishedAt));
  const floor = Math.max(1, rule.minCount);
  return newestFirst.map((backup, index) => {
    const ageDays = (now.getTime() - Date.parse(backup.finishedAt)) / day;
    if (index === 0) return { id: backup.id, action: 'keep', reason: 'newest complete backup' };
    if (index < floor) return { id: backup.id, action: 'keep', reason: `within the minCount floor of ${floor}` };
    if (rule.maxCount !== undefined && index >= rule.maxCount) {
      return { id: backup.id, action: 'delete', reason: `beyond maxCount ${rule.maxCount} (number ${index + 1})` };
    }
    if (rule.days !== undefined && ageDays > rule.days) {
      return { id: backup.id, action: 'delete', reason: `${ageDays.toFixed(1)} days old, past ${rule.days} days` };
    }
    return { id: backup.id, action: 'keep', reason: 'within retention' };
  });
}

/** Leftovers of failed attempts: removed once older than the grace period (a young one may be running). */
export function planIncompleteCleanup(
  leftovers: { id: string; lastModified: string }[],
  graceHours: number,
  now: Date,
): RetentionDecision[] {
  return leftovers.map((leftover) => {
    const ageHours = (now.getTime() - Date.parse(leftover.lastModified)) / hour;
    return ageHours > graceHours
      ? { id: leftover.id, action: 'delete', reason: `incomplete (no manifest), ${ageHours.toFixed(1)} h old` }
      : { id: leftover.id, action: 'keep', reason: `incomplete but younger than ${graceHours} h: may still be running` };
  });
}
