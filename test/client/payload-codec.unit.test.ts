import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { TemporalSchema } from '../../inventory/schema';
import {
  AesGcmPayloadCodec,
  EncryptedEncoding,
  KeyIdMetadataKey,
  PayloadEncryptionErrorCode,
  dataConverterFor,
  parsePayloadKeys,
  payloadCodecFromEnv,
  type PayloadEncryptionError,
} from '../../client/payload-codec';

const envName = 'TEGO_PAYLOAD_KEYS';
const newKey = () => randomBytes(32).toString('base64');
const codecFor = (text: string) => payloadCodecFromEnv(envName, { [envName]: text })!;
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');
const toPayload = (value: unknown) => defaultPayloadConverter.toPayload(value);
const fromPayload = (payload: Payload) => defaultPayloadConverter.fromPayload(payload);

/** The error thrown by `work`, to assert on its code and message together. */
async function errorOf(work: () => unknown): Promise<PayloadEncryptionError> {
  try {
    await work();
  } catch (err) {
    return err as PayloadEncryptionError;
  }
  throw new Error('expected an error');
}

describe('AesGcmPayloadCodec', () => {
  const secret = 'hunter2-the-database-password';

  it('round-trips payloads, metadata included, and hides both', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const plain = [toPayload({ password: secret, n: 42 }), toPayload(undefined), toPayload(new Uint8Array([1, 2, 3]))];
    const encrypted = await codec.encode(plain);

    expect(encrypted).toHaveLength(3);
    for (const payload of encrypted) {
      expect(Object.keys(payload.metadata!).sort()).toEqual(['encoding', KeyIdMetadataKey]);
      expect(text(payload.metadata!.encoding)).toBe(EncryptedEncoding);
      expect(text(payload.metadata![KeyIdMetadataKey])).toBe('k1');
      expect(text(payload.data)).not.toContain(secret);
      expect(text(payload.data)).not.toContain('json/plain');
    }
    const decoded = await codec.decode(encrypted);
    expect(decoded.map(fromPayload)).toEqual([{ password: secret, n: 42 }, undefined, new Uint8Array([1, 2, 3])]);
    expect(decoded.map((p) => text(p.metadata!.encoding))).toEqual(['json/plain', 'binary/null', 'binary/plain']);
    expect(await codec.encode([])).toEqual([]);
  });

  it('uses a fresh IV for every payload: the same value never encrypts the same way twice', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const [a, b] = await codec.encode([toPayload(secret), toPayload(secret)]);
    expect(Buffer.from(a.data!).equals(Buffer.from(b.data!))).toBe(false);
    expect(Buffer.from(a.data!).subarray(0, 12).equals(Buffer.from(b.data!).subarray(0, 12))).toBe(false);
  });

  it('rotates keys: the newest encrypts, older ones still decrypt', async () => {
    const [oldKey, newerKey] = [newKey(), newKey()];
    const before = codecFor(`2024-01:${oldKey}`);
    const after = codecFor(`2024-01:${oldKey}, 2025-06:${newerKey}`);
    expect(after.encryptingKeyId).toBe('2025-06');

    const written = await before.encode([toPayload({ n: 1 })]);
    expect((await after.decode(written)).map(fromPayload)).toEqual([{ n: 1 }]);

    const rewritten = await after.encode([toPayload({ n: 2 })]);
    expect(text(rewritten[0].metadata![KeyIdMetadataKey])).toBe('2025-06');
    expect((await after.decode(rewritten)).map(fromPayload)).toEqual([{ n: 2 }]);
  });

  it('names the unknown key id and the variable to add it to', async () => {
    const writer = codecFor(`old:${newKey()},new:${newKey()}`);
    const reader = codecFor(`other:${newKey()}`);
    const err = await errorOf(async () => reader.decode(await writer.encode([toPayload('x')])));
    expect(err.code).toBe(PayloadEncryptionErrorCode.UnknownKeyId);
    expect(err.message).toBe(
      'payload was encrypted with key id "new", which TEGO_PAYLOAD_KEYS does not hold (it holds: other); ' +
        'add that key to TEGO_PAYLOAD_KEYS to read it',
    );
  });

  it('refuses ciphertext, IV or tag that was altered (GCM authentication)', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const [sealed] = await codec.encode([toPayload({ amount: 100 })]);
    const length = sealed.data!.length;
    for (const position of [0, 12, Math.floor(length / 2), length - 1]) {
      const data = Buffer.from(sealed.data!);
      data[position] ^= 0x01;
      const err = await errorOf(() => codec.decode([{ ...sealed, data }]));
      expect(err.code).toBe(PayloadEncryptionErrorCode.AuthenticationFailed);
      expect(err.message).toMatch(/^encrypted payload \(key id "k1"\) failed authentication: it was altered/);
    }
  });

  it('says so when the same key id holds a different key', async () => {
    const [sealed] = await codecFor(`k1:${newKey()}`).encode([toPayload(1)]);
    const err = await errorOf(() => codecFor(`k1:${newKey()}`).decode([sealed]));
    expect(err.code).toBe(PayloadEncryptionErrorCode.AuthenticationFailed);
    expect(err.message).toContain('or TEGO_PAYLOAD_KEYS holds a different key under the id "k1"');
  });

  it('rejects encrypted payloads without a key id or too short to hold IV and tag', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const [sealed] = await codec.encode([toPayload(1)]);
    const noKeyId = await errorOf(() => codec.decode([{ metadata: { encoding: sealed.metadata!.encoding }, data: sealed.data }]));
    expect(noKeyId.code).toBe(PayloadEncryptionErrorCode.Malformed);
    expect(noKeyId.message).toContain('has no "encryption-key-id" metadata');
    const truncated = await errorOf(() => codec.decode([{ ...sealed, data: sealed.data!.subarray(0, 20) }]));
    expect(truncated.code).toBe(PayloadEncryptionErrorCode.Malformed);
    expect(truncated.message).toBe('encrypted payload (key id "k1") is 20 bytes, shorter than IV and tag (28)');
  });

  it('passes plain payloads through decode unchanged (UI-started workflows, older histories)', async () => {
    const codec = codecFor(`k1:${newKey()}`);
    const plain = [toPayload({ components: ['redis'] }), toPayload(undefined), { metadata: {}, data: new Uint8Array([7]) }, {}];
    const decoded = await codec.decode(plain);
    expect(decoded).toHaveLength(plain.length);
    decoded.forEach((payload, i) => expect(payload).toBe(plain[i]));
  });
});

describe('payload keys from the environment', () => {
  const problem = (value: string) => {
    try {
      parsePayloadKeys(value, envName);
    } catch (err) {
      expect((err as PayloadEncryptionError).code).toBe(PayloadEncryptionErrorCode.InvalidKeys);
      return (err as Error).message.replace(/ \(expected id:base64key.*\)$/, '');
    }
    throw new Error(`expected ${JSON.stringify(value)} to be rejected`);
  };

  it('reads id:base64key pairs in order, tolerating spaces', () => {
    const [a, b] = [randomBytes(32), randomBytes(32)];
    const keys = parsePayloadKeys(` first:${a.toString('base64')} ,second:${b.toString('base64')}\n`, envName);
    expect(keys.map((k) => k.id)).toEqual(['first', 'second']);
    expect(keys[0].key.equals(a)).toBe(true);
    expect(keys[1].key.equals(b)).toBe(true);
  });

  it('names the entry or key id and the problem, never the key', () => {
    const good = newKey();
    const short = randomBytes(16).toString('base64');
    expect(problem('')).toBe('TEGO_PAYLOAD_KEYS: is empty');
    expect(problem('  ')).toBe('TEGO_PAYLOAD_KEYS: is empty');
    expect(problem(good)).toBe('TEGO_PAYLOAD_KEYS: entry 1 has no "id:" before its key');
    expect(problem(`a:${good},,b:${good}`)).toBe('TEGO_PAYLOAD_KEYS: entry 2 is empty');
    expect(problem(`a:${good},`)).toBe('TEGO_PAYLOAD_KEYS: entry 2 is empty');
    expect(problem(`:${good}`)).toBe(
      'TEGO_PAYLOAD_KEYS: entry 1 has key id ""; key ids are 1-64 letters, digits, ".", "_" or "-"',
    );
    expect(problem(`a b:${good}`)).toContain('entry 1 has key id "a b"');
    expect(problem(`k1:${good},k1:${newKey()}`)).toBe('TEGO_PAYLOAD_KEYS: key id "k1" appears more than once');
    expect(problem('k1:')).toBe('TEGO_PAYLOAD_KEYS: key "k1" is empty');
    expect(problem('k1:not*base64!')).toBe('TEGO_PAYLOAD_KEYS: key "k1" is not valid base64');
    expect(problem(`k1:${good.slice(0, -1)}`)).toBe('TEGO_PAYLOAD_KEYS: key "k1" is not valid base64');
    expect(problem(`k1:${short}`)).toBe('TEGO_PAYLOAD_KEYS: key "k1" decodes to 16 bytes; AES-256 needs 32');
    for (const value of [good, `a:${good},,b:${good}`, `k1:${short}`]) {
      const message = problem(value);
      expect(message).not.toContain(good);
      expect(message).not.toContain(short);
    }
  });

  it('tells the format in every parse error', () => {
    expect(() => parsePayloadKeys('', envName)).toThrow(
      'TEGO_PAYLOAD_KEYS: is empty (expected id:base64key[,id:base64key...] with 32-byte keys; the last one encrypts)',
    );
  });

  it('is off when no variable is named, and refuses to run without keys when one is', () => {
    expect(payloadCodecFromEnv(undefined, {})).toBeUndefined();
    expect(() => payloadCodecFromEnv(envName, {})).toThrow(
      'environment variable TEGO_PAYLOAD_KEYS (named by temporal.payloadEncryption.keysEnv) is not set',
    );
    expect(() => payloadCodecFromEnv(envName, { [envName]: '' })).toThrow('is not set');
  });

  it('builds the same data converter for worker and client from the inventory', () => {
    const env = { [envName]: `k1:${newKey()}` };
    expect(dataConverterFor({ temporal: { address: 'x:7233', namespace: 'default', taskQueue: 'ops' } }, env)).toEqual({});
    const converter = dataConverterFor(
      { temporal: { address: 'x:7233', namespace: 'default', taskQueue: 'ops', payloadEncryption: { keysEnv: envName } } },
      env,
    );
    expect(converter.payloadCodecs).toHaveLength(1);
    expect(converter.payloadCodecs![0]).toBeInstanceOf(AesGcmPayloadCodec);
    expect((converter.payloadCodecs![0] as AesGcmPayloadCodec).encryptingKeyId).toBe('k1');
  });

  it('is named in the inventory by variable name, never by value', () => {
    expect(TemporalSchema.parse({ payloadEncryption: { keysEnv: envName } }).payloadEncryption).toEqual({ keysEnv: envName });
    expect(TemporalSchema.parse({}).payloadEncryption).toBeUndefined();
    const inline = TemporalSchema.safeParse({ payloadEncryption: { keysEnv: `k1:${newKey()}` } });
    expect(inline.success).toBe(false);
    expect(inline.error?.issues[0].message).toBe('expected the NAME of an environment variable (A-Z, 0-9, _)');
  });
});
