import { describe, expect, it } from 'vitest';
import { findWalGaps, walSegmentName } from '../../inventory/backup-catalog';
import { planIncompleteCleanup, planRetention } from '../../workflows/retention-policy';

const now = new Date('2026-06-30T12:00:00Z');
const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();
/** Daily backups, 0 to 44 days old, ids by age. */
const daily = Array.from({ length: 45 }, (_, age) => ({ id: `d${age}`, finishedAt: daysAgo(age + 0.1) }));

const deleted = (decisions: { id: string; action: string }[]) => decisions.filter((d) => d.action === 'delete').map((d) => d.id);

describe('planRetention', () => {
  it("keeps the guide's 30 days and deletes the rest", () => {
    const decisions = planRetention(daily, { days: 30, minCount: 3 }, now);
    expect(deleted(decisions)).toEqual(Array.from({ length: 15 }, (_, i) => `d${30 + i}`));
    expect(decisions[0]).toEqual({ id: 'd0', action: 'keep', reason: 'newest complete backup' });
  });

  it('caps the count, newest first', () => {
    expect(deleted(planRetention(daily, { maxCount: 7, minCount: 1 }, now))).toEqual(daily.slice(7).map((b) => b.id));
  });

  it('never goes below the minCount floor, however old the backups are', () => {
    const old = [{ id: 'a', finishedAt: daysAgo(400) }, { id: 'b', finishedAt: daysAgo(300) }, { id: 'c', finishedAt: daysAgo(200) }, { id: 'd', finishedAt: daysAgo(100) }];
    const decisions = planRetention(old, { days: 30, minCount: 2 }, now);
    expect(deleted(decisions)).toEqual(['b', 'a']);
    expect(decisions.slice(0, 2).map((d) => d.id)).toEqual(['d', 'c']);
  });

  it('never deletes the newest complete backup, even with maxCount and minCount at their lowest', () => {
    const decisions = planRetention([{ id: 'only', finishedAt: daysAgo(1000) }], { days: 1, maxCount: 1, minCount: 1 }, now);
    expect(decisions).toEqual([{ id: 'only', action: 'keep', reason: 'newest complete backup' }]);
  });

  it('orders by finish time, not by the order listed', () => {
    const shuffled = [daily[40], daily[2], daily[35], daily[0]];
    expect(planRetention(shuffled, { days: 30, minCount: 1 }, now).map((d) => `${d.id}:${d.action}`)).toEqual([
      'd0:keep',
      'd2:keep',
      'd35:delete',
      'd40:delete',
    ]);
  });
});

describe('planIncompleteCleanup', () => {
  it('removes leftovers past the grace period and spares young ones, which may be running', () => {
    const hoursAgo = (h: number) => new Date(now.getTime() - h * 3_600_000).toISOString();
    const decisions = planIncompleteCleanup([{ id: 'young', lastModified: hoursAgo(2) }, { id: 'stale', lastModified: hoursAgo(30) }], 24, now);
    expect(decisions).toEqual([
      { id: 'young', action: 'keep', reason: 'incomplete but younger than 24 h: may still be running' },
      { id: 'stale', action: 'delete', reason: 'incomplete (no manifest), 30.0 h old' },
    ]);
  });
});

describe('walSegmentName', () => {
  it('names the 16 MiB segment holding an LSN, as pg_walfile_name does', () => {
    expect(walSegmentName(1, '0/3000148')).toBe('000000010000000000000003');
    expect(walSegmentName(1, '0/39000100')).toBe('000000010000000000000039');
    expect(walSegmentName(2, '1A/FF000000')).toBe('000000020000001A000000FF');
  });
});

describe('findWalGaps', () => {
  const seg = (log: number, n: number, tl = 1) => walSegmentName(tl, `${log.toString(16)}/${(n * 0x1000000).toString(16)}`);

  it('finds nothing in a whole chain, across a log boundary and a timeline switch', () => {
    expect(findWalGaps([seg(0, 0xfe), seg(0, 0xff), seg(1, 0), seg(1, 1, 2)], seg(0, 0xfe))).toEqual([]);
  });

  it('names each hole as a range, and ignores segments before the start', () => {
    const archived = [seg(0, 1), seg(0, 3), seg(0, 4), seg(0, 8)];
    expect(findWalGaps(archived, seg(0, 3))).toEqual([`${seg(0, 5)}..${seg(0, 7)}`]);
    expect(findWalGaps(archived, seg(0, 1))).toEqual([`${seg(0, 2)}..${seg(0, 2)}`, `${seg(0, 5)}..${seg(0, 7)}`]);
  });

  it('reports a start that was never archived', () => {
    expect(findWalGaps([seg(0, 5)], seg(0, 3))).toEqual([`${seg(0, 3)}..${seg(0, 4)}`]);
  });
});
