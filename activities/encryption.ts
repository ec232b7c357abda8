import { createCipheriv, createDecipheriv, randomBytes, type CipherGCM, type DecipherGCM } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Streaming AES-256-GCM for archives that hold secrets. Layout of an encrypted object:
 *   "TEGOENC1" (8 bytes) | IV (12 bytes) | ciphertext | GCM tag (16 bytes)
 * The key id is recorded in the manifest, not in the object, so keys can be rotated.
 */
const magic = Buffer.from('TEGOENC1');
const ivLength = 12;
const tagLength = 16;

/**
 * Decodes a 32-byte key given as base64 or hex.
 * @throws Error saying what was wrong with it (never the key itself)
 */
export function parseKey(text: string, name: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== 32) {
    throw new Error(`${name} must hold a 32-byte key as base64 or 64 hex digits (it decodes to ${key.length} bytes)`);
  }
  return key;
}

export class EncryptStream extends Transform {
  private readonly cipher: CipherGCM;
  private headerSent = false;
  private readonly iv = randomBytes(ivLength);

  constructor(key: Buffer) {
    super();
    this.cipher = createCipheriv('aes-256-gcm', key, this.iv);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.sendHeader();
    done(null, this.cipher.update(chunk));
  }

  override _flush(done: TransformCallback): void {
    this.sendHeader();
    this.push(this.cipher.final());
    this.push(this.cipher.getAuthTag());
    done();
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(Buffer.concat([magic, this.iv]));
  }
}

/** Undoes EncryptStream; fails at the end if a single bit of the object was changed. */
export class DecryptStream extends Transform {
  private header = Buffer.alloc(0);
  private decipher: DecipherGCM | undefined;
  /** The last bytes seen may be the tag, so they are held back until more arrive or the end. */
  private tail = Buffer.alloc(0);

  constructor(private readonly key: Buffer) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    let data = chunk;
    if (!this.decipher) {
      this.header = Buffer.concat([this.header, data]);
      if (this.header.length < magic.length + ivLength) return done();
      if (!this.header.subarray(0, magic.length).equals(magic)) return done(new Error('not a tego-ops encrypted object'));
      this.decipher = createDecipheriv('aes-256-gcm', this.key, this.header.subarray(magic.length, magic.length + ivLength));
      data = this.header.subarray(magic.length + ivLength);
    }
    const pending = Buffer.concat([this.tail, data]);
    const cut = Math.max(0, pending.length - tagLength);
    this.tail = pending.subarray(cut);
    done(null, this.decipher.update(pending.subarray(0, cut)));
  }

  override _flush(done: TransformCallback): void {
    if (!this.decipher || this.tail.length !== tagLength) return done(new Error('encrypted object is truncated'));
    this.decipher.setAuthTag(this.tail);
    try {
      done(null, this.decipher.final());
    } catch {
      done(new Error('encrypted object failed authentication: wrong key, or the object was altered'));
    }
  }
}
