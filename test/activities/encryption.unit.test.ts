import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { DecryptStream, EncryptStream, parseKey } from '../../activities/encryption';

async function through(data: Buffer, stage: EncryptStream | DecryptStream, chunk = 1000): Promise<Buffer> {
  const chunks = [];
  for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), stage, async function* (source: AsyncIterable<Buffer>) {
    for await (const c of source) out.push(c);
    yield* [];
  });
  return Buffer.concat(out);
}

describe('AES-256-GCM streams', () => {
  const key = randomBytes(32);

  it('round-trips data of any size, in chunks of any size', async () => {
    for (const [size, chunk] of [[0, 7], [1, 1], [15, 4], [100_000, 4096], [100_003, 17]] as const) {
      const data = randomBytes(size);
      const sealed = await through(data, new EncryptStream(key), chunk);
      expect(sealed.length).toBe(8 + 12 + size + 16);
      expect(sealed.subarray(0, 8).toString()).toBe('TEGOENC1');
      expect(await through(sealed, new DecryptStream(key), chunk)).toEqual(data);
    }
  });

  it('refuses an altered object and a wrong key', async () => {
    const sealed = await through(Buffer.from('POSTGRES_PASSWORD=secret\n'), new EncryptStream(key));
    const altered = Buffer.from(sealed);
    altered[25] ^= 1;
    await expect(through(altered, new DecryptStream(key))).rejects.toThrow('failed authentication');
    await expect(through(sealed, new DecryptStream(randomBytes(32)))).rejects.toThrow('failed authentication');
    await expect(through(sealed.subarray(0, 30), new DecryptStream(key))).rejects.toThrow();
  });

  it('accepts a key as base64 or hex, and says what is wrong with a bad one', () => {
    expect(parseKey(key.toString('base64'), 'K')).toEqual(key);
    expect(parseKey(key.toString('hex'), 'K')).toEqual(key);
    expect(() => parseKey('c2hvcnQ=', 'TEGO_BACKUP_KEY')).toThrow(
      'TEGO_BACKUP_KEY must hold a 32-byte key as base64 or 64 hex digits (it decodes to 5 bytes)',
    );
  });
});
