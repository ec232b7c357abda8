import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { newS3Client } from '../../activities/storage-client';
import type { SandboxState } from './sandbox';
import { SecretEnv } from './sandbox-inventory';
import { listKeys as listBucketKeys } from '../../activities/stored-objects';
import { sandboxBucket } from './services/minio';

/** A client on the sandbox's MinIO, for tests to look at what workflows left in the bucket. */
export function sandboxS3(sandbox: SandboxState): S3Client {
  return newS3Client({
    endpoint: `http://127.0.0.1:${sandbox.portBase + 30}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: sandbox.env[SecretEnv.s3AccessKeyId],
      secretAccessKey: sandbox.env[SecretEnv.s3SecretAccessKey],
    },
  });
}

/** Every key under `prefix` in the sandbox bucket, sorted. */
export async function listKeys(s3: S3Client, prefix: string): Promise<string[]> {
  return (await listBucketKeys(s3, sandboxBucket, prefix)).sort();
}

/** Multipart uploads in progress (or abandoned) anywhere in the bucket. */
export async function multipartUploads(s3: S3Client): Promise<string[]> {
  const listed = await s3.send(new ListMultipartUploadsCommand({ Bucket: sandboxBucket }));
  return (listed.Uploads ?? []).map((u) => u.Key!);
}

export async function downloadToFile(s3: S3Client, key: string, file: string): Promise<void> {
  const response = await s3.send(new GetObjectCommand({ Bucket: sandboxBucket, Key: key }));
  await pipeline(response.Body as Readable, createWriteStream(file));
}

export async function readObjectText(s3: S3Client, key: string): Promise<string> {
  const response = await s3.send(new GetObjectCommand({ Bucket: sandboxBucket, Key: key }));
  return response.Body!.transformToString();
}

export async function emptyPrefix(s3: S3Client, prefix: string): Promise<void> {
  const keys = await listKeys(s3, prefix);
  for (let i = 0; i < keys.length; i += 1000) {
    await s3.send(
      new DeleteObjectsCommand({ Bucket: sandboxBucket, Delete: { Objects: keys.slice(i, i + 1000).map((Key) => ({ Key })) } }),
    );
  }
}
