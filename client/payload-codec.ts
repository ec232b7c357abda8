import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Inventory } from '../inventory/schema';

/**
 * Encryption of every payload tego-ops sends to Temporal (workflow inputs and results, activity
 * arguments and results, heartbeat details, memos, failure details), so that the Temporal server,
 * its database and its backups hold ciphertext only: the design's "secrets never cross a workflow
 * boundary in clear text", enforced for everything rather than field by field.
 *
 * The whole payload (metadata included, so the original encoding stays private too) is serialized as
 * a `temporal.api.common.v1.Payload` protobuf and sealed with AES-256-GCM:
 *   data     = IV (12 random bytes) | ciphertext | GCM tag (16 bytes)
 *   metadata = { encoding: "binary/encrypted", "encryption-key-id": <id> }
 * This is the layout of the Temporal encryption samples, so their codec servers can read it.
 */

/** Metadata `encoding` of an encrypted payload. */
export const EncryptedEncoding = 'binary/encrypted';
/** Metadata key naming the key a payload was encrypted with; the key itself never leaves the process. */
export const KeyIdMetadataKey = 'encryption-key-id';

const ivLength = 12;
const tagLength = 16;
const keyLength = 32;
const keyIdPattern = /^[A-Za-z0-9._-]{1,64}$/;
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Stable codes of PayloadEncryptionError, for callers that handle one case differently. */
export const PayloadEncryptionErrorCode = {
  /** The key list in the environment is unusable (empty, bad base64, wrong length, duplicate id). */
  InvalidKeys: 'InvalidKeys',
  /** The key list names encryption but the variable holding it is not set. */
  MissingKeys: 'MissingKeys',
  /** A payload was encrypted with a key id the key list does not hold. */
  UnknownKeyId: 'UnknownKeyId',
  /** An encrypted payload failed GCM authentication: altered, or a different key under the same id. */
  AuthenticationFailed: 'AuthenticationFailed',
  /** An encrypted payload is not in the expected shape (no key id, too short). */
  Malformed: 'Malformed',
} as const;
export type PayloadEncryptionErrorCode = (typeof PayloadEncryptionErrorCode)[keyof typeof PayloadEncryptionErrorCode];

/** Any problem with payload keys or encrypted payloads. Messages name key ids and variables, never key bytes. */
export class PayloadEncryptionError extends Error {
  constructor(
    readonly code: PayloadEncryptionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PayloadEncryptionError';
  }
}

/** One AES-256 key and the id written beside every payload it encrypts. */
export interface PayloadKey {
  id: string;
  key: Buffer;
}

/**
 * Parses a key list `id1:base64key,id2:base64key` (32-byte keys, e.g. `openssl rand -base64 32`).
 * The order matters: the LAST key encrypts new payloads; every key decrypts, so a key is rotated by
 * appending the new one and removed only once no history that needs it is still kept.
 * @param source what to name in errors, usually the environment variable the text came from
 * @throws PayloadEncryptionError `InvalidKeys`, naming the entry or key id and what is wrong with it
 */
export function parsePayloadKeys(text: string, source: string): PayloadKey[] {
  const invalid = (problem: string) =>
    new PayloadEncryptionError(
      PayloadEncryptionErrorCode.InvalidKeys,
      `${source}: ${problem} (expected id:base64key[,id:base64key...] with 32-byte keys; the last one encrypts)`,
    );
  if (text.trim() === '') throw invalid('is empty');
  const keys: PayloadKey[] = [];
  text.split(',').forEach((entry, index) => {
    const position = `entry ${index + 1}`;
    const trimmed = entry.trim();
    if (trimmed === '') throw invalid(`${position} is empty`);
    const colon = trimmed.indexOf(':');
    // The entry is never quoted in these messages: without a colon it may well be a bare key.
    if (colon < 0) throw invalid(`${position} has no "id:" before its key`);
    const id = trimmed.slice(0, colon).trim();
    const encoded = trimmed.slice(colon + 1).trim();
    if (!keyIdPattern.test(id)) {
      throw invalid(`${position} has key id "${id}"; key ids are 1-64 letters, digits, ".", "_" or "-"`);
    }
    if (keys.some((k) => k.id === id)) throw invalid(`key id "${id}" appears more than once`);
    if (encoded === '') throw invalid(`key "${id}" is empty`);
    if (!base64Pattern.test(encoded)) throw invalid(`key "${id}" is not valid base64`);
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== keyLength) {
      throw invalid(`key "${id}" decodes to ${key.length} bytes; AES-256 needs ${keyLength}`);
    }
    keys.push({ id, key });
  });
  return keys;
}

/**
 * The PayloadCodec of the worker, the client and the codec server: AES-256-GCM with a fresh random
 * IV per payload. Payloads that are not encrypted pass through decode unchanged, because a workflow
 * started from the Temporal UI (without a codec endpoint) arrives as plain JSON, and histories
 * recorded before encryption was turned on must still replay.
 *
 * @example
 * const codec = new AesGcmPayloadCodec(parsePayloadKeys(process.env.TEGO_PAYLOAD_KEYS!, 'TEGO_PAYLOAD_KEYS'), 'TEGO_PAYLOAD_KEYS');
 * const client = new Client({ connection, dataConverter: { payloadCodecs: [codec] } });
 */
export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly keys: ReadonlyMap<string, Buffer>;
  /** Id of the key that encrypts: the last one of the list. */
  readonly encryptingKeyId: string;

  /**
   * @param keys at least one; the last encrypts, all decrypt
   * @param source what to name when a payload needs a key the list lacks (the environment variable)
   */
  constructor(
    keys: readonly PayloadKey[],
    private readonly source: string,
  ) {
    if (keys.length === 0) {
      throw new PayloadEncryptionError(PayloadEncryptionErrorCode.InvalidKeys, `${source}: no keys given`);
    }
    this.keys = new Map(keys.map((k) => [k.id, k.key]));
    if (this.keys.size !== keys.length) {
      throw new PayloadEncryptionError(PayloadEncryptionErrorCode.InvalidKeys, `${source}: key ids must be unique`);
    }
    this.encryptingKeyId = keys[keys.length - 1].id;
  }

  /** Key ids this codec can decrypt, in no particular order. */
  get keyIds(): string[] {
    return [...this.keys.keys()];
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.encryptingKeyId)!;
    const metadata = {
      [METADATA_ENCODING_KEY]: Buffer.from(EncryptedEncoding),
      [KeyIdMetadataKey]: Buffer.from(this.encryptingKeyId),
    };
    return payloads.map((payload) => {
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const iv = randomBytes(ivLength);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { ...metadata }, data: sealed };
    });
  }

  /**
   * @throws PayloadEncryptionError `UnknownKeyId` naming the key id and the variable to add it to,
   *   `AuthenticationFailed` when the ciphertext was altered, `Malformed` when it cannot be one of ours
   */
  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => (isEncrypted(payload) ? this.decrypt(payload) : payload));
  }

  private decrypt(payload: Payload): Payload {
    const keyIdBytes = payload.metadata?.[KeyIdMetadataKey];
    if (!keyIdBytes || keyIdBytes.length === 0) {
      throw new PayloadEncryptionError(
        PayloadEncryptionErrorCode.Malformed,
        `encrypted payload has no "${KeyIdMetadataKey}" metadata, so no key can be chosen to decrypt it`,
      );
    }
    const keyId = Buffer.from(keyIdBytes).toString('utf8');
    const key = this.keys.get(keyId);
    if (!key) {
      throw new PayloadEncryptionError(
        PayloadEncryptionErrorCode.UnknownKeyId,
        `payload was encrypted with key id "${keyId}", which ${this.source} does not hold ` +
          `(it holds: ${this.keyIds.join(', ')}); add that key to ${this.source} to read it`,
      );
    }
    const data = Buffer.from(payload.data ?? new Uint8Array());
    if (data.length < ivLength + tagLength) {
      throw new PayloadEncryptionError(
        PayloadEncryptionErrorCode.Malformed,
        `encrypted payload (key id "${keyId}") is ${data.length} bytes, shorter than IV and tag (${ivLength + tagLength})`,
      );
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, ivLength));
    decipher.setAuthTag(data.subarray(data.length - tagLength));
    let plain: Buffer;
    try {
      plain = Buffer.concat([decipher.update(data.subarray(ivLength, data.length - tagLength)), decipher.final()]);
    } catch {
      throw new PayloadEncryptionError(
        PayloadEncryptionErrorCode.AuthenticationFailed,
        `encrypted payload (key id "${keyId}") failed authentication: it was altered, ` +
          `or ${this.source} holds a different key under the id "${keyId}"`,
      );
    }
    return temporal.api.common.v1.Payload.decode(plain);
  }
}

/** Whether a payload is one this codec produced (as opposed to plain JSON from the UI or an older history). */
export function isEncrypted(payload: Payload): boolean {
  const encoding = payload.metadata?.[METADATA_ENCODING_KEY];
  return encoding !== undefined && encoding !== null && Buffer.from(encoding).toString('utf8') === EncryptedEncoding;
}

/**
 * The codec for the key list in environment variable `envName`, or undefined when no variable is
 * named (encryption not configured).
 * @throws PayloadEncryptionError `MissingKeys` when the variable is named but unset: running without
 *   encryption then would silently write clear text to a server that is meant to see none;
 *   `InvalidKeys` when its value cannot be parsed
 */
export function payloadCodecFromEnv(
  envName: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): AesGcmPayloadCodec | undefined {
  if (envName === undefined) return undefined;
  const text = env[envName];
  if (text === undefined || text === '') {
    throw new PayloadEncryptionError(
      PayloadEncryptionErrorCode.MissingKeys,
      `environment variable ${envName} (named by temporal.payloadEncryption.keysEnv) is not set; ` +
        'it holds the payload keys as id:base64key[,id:base64key...]',
    );
  }
  return new AesGcmPayloadCodec(parsePayloadKeys(text, envName), envName);
}

/**
 * The data converter every tego-ops connection to Temporal uses (worker, client, test harness), so
 * they all encrypt and decrypt the same way: `{ payloadCodecs: [codec] }` when the inventory sets
 * `temporal.payloadEncryption`, else `{}` (the SDK's defaults).
 * @throws PayloadEncryptionError as payloadCodecFromEnv
 */
export function dataConverterFor(
  inventory: Pick<Inventory, 'temporal'>,
  env: NodeJS.ProcessEnv = process.env,
): Pick<DataConverter, 'payloadCodecs'> {
  const codec = payloadCodecFromEnv(inventory.temporal.payloadEncryption?.keysEnv, env);
  return codec ? { payloadCodecs: [codec] } : {};
}
