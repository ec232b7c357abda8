import { describe, expect, it } from 'vitest';
import { ChangeWindowSchema, isWindowOpen, nextWindowOpening } from '../../workflows/change-window';

const window = (w: object) => ChangeWindowSchema.parse(w);

describe('change windows', () => {
  const nightly = window({ days: ['tue', 'thu'], start: '02:00', end: '04:00', timeZone: 'Asia/Shanghai' });

  it('is open only on the listed days, between start and end, in its own time zone', () => {
    // Tuesday 2026-12-08 02:30 in Shanghai is Monday 18:30 UTC.
    expect(isWindowOpen(nightly, new Date('2026-12-07T18:30:00Z'))).toBe(true);
    expect(isWindowOpen(nightly, new Date('2026-12-07T20:00:00Z'))).toBe(false); // 04:00 local: closed
    expect(isWindowOpen(nightly, new Date('2026-12-08T18:30:00Z'))).toBe(false); // Wednesday
  });

  it('finds the next opening, to the minute', () => {
    // Wednesday noon in Shanghai → Thursday 02:00 local = Wednesday 18:00 UTC.
    expect(nextWindowOpening(nightly, new Date('2026-12-09T04:00:00Z')).toISOString()).toBe('2026-12-09T18:00:00.000Z');
    const inside = new Date('2026-12-07T18:30:00Z');
    expect(nextWindowOpening(nightly, inside)).toBe(inside);
  });

  it('wraps past midnight: open late on a listed day and early the morning after', () => {
    const overnight = window({ days: ['fri'], start: '22:00', end: '03:00' });
    expect(isWindowOpen(overnight, new Date('2026-12-04T23:00:00Z'))).toBe(true); // Friday 23:00
    expect(isWindowOpen(overnight, new Date('2026-12-05T02:59:00Z'))).toBe(true); // Saturday 02:59
    expect(isWindowOpen(overnight, new Date('2026-12-05T03:00:00Z'))).toBe(false);
    expect(isWindowOpen(overnight, new Date('2026-12-04T02:00:00Z'))).toBe(false); // Friday early: Thursday not listed
  });

  it('honours daylight saving: 02:30 does not exist in Berlin on 2027-03-28, so that day opens at 03:00', () => {
    const berlin = window({ days: ['sun'], start: '02:30', end: '05:00', timeZone: 'Europe/Berlin' });
    expect(nextWindowOpening(berlin, new Date('2027-03-27T12:00:00Z')).toISOString()).toBe('2027-03-28T01:00:00.000Z');
  });

  it('rejects bad windows with field-level messages', () => {
    const result = ChangeWindowSchema.safeParse({ days: ['monday'], start: '25:00', end: '04:00', timeZone: 'Mars/Olympus' });
    expect(result.success).toBe(false);
    const paths = result.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^days\.0: /),
        'start: expected a 24-hour time like "02:00"',
        'timeZone: expected an IANA time zone like "Asia/Shanghai"',
      ]),
    );
  });
});
