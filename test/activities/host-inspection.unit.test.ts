import { describe, expect, it } from 'vitest';
import { demultiplex, logLineTime } from '../../activities/host-inspection';

describe('container logs', () => {
  it('demultiplexes Docker\'s framed stdout/stderr, and passes a TTY\'s plain text through', () => {
    const frame = (stream: number, text: string) => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    expect(demultiplex(Buffer.concat([frame(1, 'started\n'), frame(2, 'ERROR boom\n')]))).toBe('started\nERROR boom\n');
    expect(demultiplex(Buffer.from('plain tty output\n'))).toBe('plain tty output\n');
  });
});

describe('PostgreSQL log times', () => {
  it('reads the %m prefix in UTC or a numeric offset, and leaves named zones unresolved', () => {
    expect(logLineTime('2026-12-05 03:40:01.123 UTC [123] FATAL:  password authentication failed for user "x"')).toBe(Date.parse('2026-12-05T03:40:01.123Z'));
    expect(logLineTime('2026-12-05 11:40:01.123 +08 [123] LOG:  x')).toBe(Date.parse('2026-12-05T03:40:01.123Z'));
    expect(logLineTime('2026-12-05 11:40:01 +0800 [1] LOG:  x')).toBe(Date.parse('2026-12-05T03:40:01Z'));
    expect(logLineTime('2026-12-05 04:40:01.123 CET [123] LOG:  x')).toBeUndefined();
    expect(logLineTime('\tcontinuation line')).toBeUndefined();
  });
});
