import { z } from 'zod';

/**
 * Change windows ("变更窗口: 在低峰期执行变更操作"): the days and local hours in which a mutating step may
 * begin. Pure module: workflows decide with it, the CLI explains with it.
 */

export const weekdays = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
export type Weekday = (typeof weekdays)[number];

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected a 24-hour time like "02:00"');

function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

export const ChangeWindowSchema = z
  .object({
    days: z.array(z.enum(weekdays)).min(1).default([...weekdays]).describe('days on which the window opens (default: every day)'),
    start: clockTime.describe('local time the window opens, HH:MM'),
    end: clockTime.describe('local time it closes, HH:MM; before start means the next day'),
    timeZone: z
      .string()
      .refine(isTimeZone, 'expected an IANA time zone like "Asia/Shanghai"')
      .default('UTC')
      .describe('IANA time zone of start and end (default: UTC)'),
  })
  .strict()
  .refine((w) => w.start !== w.end, { message: 'start and end must differ', path: ['end'] });

export type ChangeWindow = z.output<typeof ChangeWindowSchema>;

interface LocalTime {
  weekday: Weekday;
  /** Minutes since local midnight. */
  minute: number;
}

function localTime(at: Date, timeZone: string): LocalTime {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
  }).formatToParts(at);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return {
    weekday: part('weekday').toLowerCase() as Weekday,
    minute: Number(part('hour')) * 60 + Number(part('minute')),
  };
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether a mutating step may begin at `at`. */
export function isWindowOpen(window: ChangeWindow, at: Date): boolean {
  const start = toMinutes(window.start);
  const end = toMinutes(window.end);
  const now = localTime(at, window.timeZone);
  if (start < end) return window.days.includes(now.weekday) && now.minute >= start && now.minute < end;
  // Past midnight: open from start on a listed day, or before end on the day after a listed day.
  const yesterday = weekdays[(weekdays.indexOf(now.weekday) + 6) % 7];
  return (window.days.includes(now.weekday) && now.minute >= start) || (window.days.includes(yesterday) && now.minute < end);
}

/**
 * The first moment at or after `from` when the window is open (to the minute), or `from` itself when it is
 * open already. Scans minute by minute in the window's time zone, so daylight-saving jumps are honoured.
 */
export function nextWindowOpening(window: ChangeWindow, from: Date): Date {
  if (isWindowOpen(window, from)) return from;
  const minute = 60_000;
  let at = new Date(Math.ceil(from.getTime() / minute) * minute);
  for (let i = 0; i <= 8 * 24 * 60; i++, at = new Date(at.getTime() + minute)) {
    if (isWindowOpen(window, at)) return at;
  }
  throw new Error(`the change window ${describeWindow(window)} never opens`);
}

export function describeWindow(window: ChangeWindow): string {
  const days = window.days.length === 7 ? 'daily' : window.days.join(',');
  return `${days} ${window.start}–${window.end} ${window.timeZone}`;
}
