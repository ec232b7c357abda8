import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter, discard } from './stream-upload';

/** Every key under `prefix`, in the store's (lexical) order, across listing pages. */
export async function listKeys(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys;
}

/**
 * Reads a stored object through a SHA-256 meter.
 * @returns its size and hash, with its user metadata; `undefined` when the object does not exist
 */
export async function hashStoredObject(
  s3: S3Client,
  bucket: string,
  key: string,
  meter = new ByteMeter(true),
): Promise<{ bytes: number; sha256: string; metadata: Record<string, string> } | undefined> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })).catch((err: unknown) => {
    if ((err as { name?: string }).name === 'NoSuchKey') return undefined;
    throw err;
  });
  if (!response) return undefined;
  await pipeline(response.Body as Readable, meter, discard());
  return { bytes: meter.bytes, sha256: meter.digest(), metadata: response.Metadata ?? {} };
}

/** Why a stored object is not what was recorded, or null when it is. */
export function checksumProblem(
  key: string,
  stored: { bytes: number; sha256: string } | undefined,
  recorded: { size?: number; sha256: string },
): string | null {
  if (!stored) return `object ${key} is missing`;
  if (recorded.size !== undefined && stored.bytes !== recorded.size) return `${stored.bytes} bytes stored, the manifest says ${recorded.size}`;
  if (stored.sha256 !== recorded.sha256) return `sha256 ${stored.sha256} does not match the manifest's ${recorded.sha256}`;
  return null;
}
