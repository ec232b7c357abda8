import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { BackupManifest } from '../inventory/backup-catalog';
import { ErrorType } from '../workflows/error-types';
import { spawnPiped } from './child-process';
import { decompressor, type CompressionMethod } from './compression';
import type { ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { createS3Client, storageSettings } from './storage-client';
import { checksumProblem, hashStoredObject } from './stored-objects';
import { ByteMeter } from './stream-upload';

/**
 * Restoring a stored dump in one pass: bucket → SHA-256 meter → decompressor → pg_restore, with no
 * temporary file. Shared by restore drills (into scratch clusters) and production restores.
 */

export interface RestoreTarget {
  host: string;
  port: number;
  user: string;
  password: string;
  /** An existing, empty database. */
  database: string;
  /** e.g. --no-owner for a cluster without the source's roles. */
  extraArgs?: string[];
}

/**
 * Restores `manifest`'s dump into `target.database`.
 * @throws ApplicationFailure `ChecksumMismatch` (non-retryable) for an altered or truncated object
 * @throws ApplicationFailure `RestoreFailed` (non-retryable) when pg_restore rejects an intact dump
 */
export async function streamRestore(deps: ActivityDeps, manifest: BackupManifest, target: RestoreTarget): Promise<{ bytesRead: number }> {
  const meter = new ByteMeter(true);
  await withStoredObject(deps, manifest, meter, async (body) => {
    const restore = spawnPiped(
      'pg_restore',
      ['-h', target.host, '-p', String(target.port), '-U', target.user, '--no-password', '-d', target.database, '--exit-on-error', ...(target.extraArgs ?? [])],
      { ...process.env, PGPASSWORD: target.password },
    );
    restore.child.stdout.resume();
    await decompressInto(body, manifest.compression, restore.child.stdin, restore.exited, (err) =>
      ApplicationFailure.nonRetryable(`pg_restore of ${manifest.object.key} failed: ${err.message}`, ErrorType.RestoreFailed),
    );
  });
  return { bytesRead: meter.bytes };
}

/**
 * Streams a backup object into `work`, hashing it on the way, with heartbeats of the bytes read. When
 * `work` fails or the hash differs, the object is re-read to tell damage (ChecksumMismatch, naming the
 * object) from any other failure, which is rethrown as it was.
 */
export async function withStoredObject(deps: ActivityDeps, manifest: BackupManifest, meter: ByteMeter, work: (body: Readable) => Promise<void>): Promise<void> {
  const s3 = createS3Client(deps);
  const { bucket } = storageSettings(deps);
  const { key } = manifest.object;
  try {
    await withProgressHeartbeat(
      () => ({ bytesRead: meter.bytes, of: manifest.object.size }),
      async () => {
        let failure: Error | undefined;
        try {
          const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: Context.current().cancellationSignal });
          const body = (response.Body as Readable).pipe(meter);
          await work(body);
        } catch (err) {
          failure = err as Error;
        }
        const stored = failure ? await hashStoredObject(s3, bucket, key) : { bytes: meter.bytes, sha256: meter.digest() };
        const problem = checksumProblem(key, stored, manifest.object);
        if (problem) throw ApplicationFailure.nonRetryable(`${key}: ${problem}`, ErrorType.ChecksumMismatch);
        if (failure) throw failure;
      },
    );
  } finally {
    s3.destroy();
  }
}

/**
 * Pipes `body` through the decompressor for `method` into `sink`, resolving when the sink's consumer
 * (`consumed`) is done. A consumer failure is passed through `asFailure`.
 */
export async function decompressInto(
  body: Readable,
  method: CompressionMethod,
  sink: NodeJS.WritableStream,
  consumed: Promise<void>,
  asFailure: (err: Error) => unknown,
): Promise<void> {
  const tool = decompressor(method);
  const consumer = consumed.catch((err: Error) => {
    throw asFailure(err);
  });
  if (!tool) {
    await Promise.all([consumer, pipeline(body, sink)]);
    return;
  }
  const unpack = spawnPiped(tool.command, tool.args);
  // Settled together, and the consumer's failure first: when pg_restore stops on an error, the broken
  // pipes behind it are consequences, not the cause.
  const results = await Promise.allSettled([consumer, pipeline(body, unpack.child.stdin), pipeline(unpack.child.stdout, sink), unpack.exited]);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
}
