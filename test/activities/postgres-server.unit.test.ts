import { describe, expect, it } from 'vitest';
import { walEndFromWaldumpError } from '../../activities/postgres-server';
import { compareLsn } from '../../workflows/lsn';

describe('walEndFromWaldumpError', () => {
  it('reads the end of the WAL from the record pg_waldump could not read', () => {
    expect(walEndFromWaldumpError('pg_waldump: error: error in WAL record at 0/3000148: invalid record length at 0/3000180: wanted 24, got 0\n')).toBe('0/3000180');
    expect(walEndFromWaldumpError('pg_waldump: error: error in WAL record at 1/A0000028: record with incorrect prev-link 0/1000028 at 1/A00000B0\n')).toBe('1/A00000B0');
  });

  it('reads it from the page it found invalid when the message names no position', () => {
    // Segment 0000000100000002000000A3 starts at 2/A3000000; offset 8192 is its second page.
    expect(walEndFromWaldumpError('pg_waldump: error: error in WAL record at 2/A2FFFFE0: invalid magic number 0000 in log segment 0000000100000002000000A3, offset 8192\n')).toBe('2/A3002000');
  });

  it('says nothing when there is nothing to read', () => {
    expect(walEndFromWaldumpError('pg_waldump: error: could not open file "x": No such file or directory')).toBeUndefined();
  });
});

describe('compareLsn', () => {
  it('is the distance in bytes', () => {
    expect(compareLsn('1/0', '0/FFFFFFFF')).toBe(1);
    expect(compareLsn('0/3000000', '0/3000180')).toBe(-0x180);
  });
});
