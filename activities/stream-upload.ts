import { createHash } from 'node:crypto';
import { Transform, Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { StoredObject } from '../inventory/backup-catalog';

/**
 * Bytes per multipart part: 8 MiB keeps the worker's memory low (two parts in flight, one filling); an
 * upload expected to be large gets larger parts, so it stays within S3's 10,000 parts with room to spare.
 */
export function multipartPartSize(expectedBytes = 0): number {
  const mib = 1024 * 1024;
  return Math.max(8 * mib, Math.ceil((expectedBytes * 2) / 10_000 / mib) * mib);
}

/** Counts bytes flowing through, and optionally hashes them, without holding any of them. */
export class ByteMeter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');

  constructor(private readonly hashing: boolean) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: (err: null, chunk: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.hashing) this.hash.update(chunk);
    done(null, chunk);
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}

/** A sink that drops what it is given: the end of a pipeline run only for its meters. */
export function discard(): Writable {
  return new Writable({ write: (_chunk, _encoding, done) => done() });
}

/**
 * Starts streaming `source` into one S3 object with a multipart upload, hashing and counting it on
 * the way: no temporary file, memory bounded by the parts in flight. Any failure — of the source,
 * of the network, a cancellation — aborts the multipart upload, so no half-object is left behind.
 * `meter` shows progress while `done` is pending.
 */
export function startUpload(options: {
  s3: S3Client;
  bucket: string;
  key: string;
  source: Readable;
  signal?: AbortSignal;
  /** A generous guess at the stored size (e.g. the database's size), to size the parts. */
  expectedBytes?: number;
}): { meter: ByteMeter; done: Promise<StoredObject> } {
  const meter = new ByteMeter(true);
  const upload = new Upload({
    client: options.s3,
    params: { Bucket: options.bucket, Key: options.key, Body: meter },
    partSize: multipartPartSize(options.expectedBytes),
    queueSize: 2,
    leavePartsOnError: false,
  });
  const onAbort = () => void upload.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const done = (async () => {
    try {
      await Promise.all([pipeline(options.source, meter), upload.done()]);
    } catch (err) {
      options.source.destroy();
      meter.destroy();
      await upload.abort().catch(() => undefined);
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
    return { key: options.key, size: meter.bytes, sha256: meter.digest() };
  })();
  done.catch(() => undefined); // awaited by the caller; an early failure is not "unhandled"
  return { meter, done };
}

/**
 * Aborts multipart uploads left on `key` by an attempt that died without cleaning up (a killed
 * worker). Run before each attempt so retries start clean.
 * @returns how many were aborted
 */
export async function abortStaleUploads(s3: S3Client, bucket: string, key: string): Promise<number> {
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }));
  const stale = (listed.Uploads ?? []).filter((u) => u.Key === key && u.UploadId);
  for (const upload of stale) {
    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: upload.UploadId }));
  }
  return stale.length;
}
