import { describe, expect, it } from 'vitest';
import { multipartPartSize } from '../../activities/stream-upload';

const MiB = 1024 * 1024;

describe('multipartPartSize', () => {
  it('uses 8 MiB parts when nothing or something small is expected', () => {
    expect(multipartPartSize()).toBe(8 * MiB);
    expect(multipartPartSize(2 * 1024 * MiB)).toBe(8 * MiB);
  });

  it('grows the parts so twice the expected size fits in S3s 10,000 parts', () => {
    const expected = 500 * 1024 * MiB; // 500 GiB
    const part = multipartPartSize(expected);
    expect(part % MiB).toBe(0);
    expect(part * 10_000).toBeGreaterThanOrEqual(2 * expected);
  });
});
