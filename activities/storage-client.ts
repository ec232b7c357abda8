import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { ActivityDeps } from './deps';

/**
 * The one place S3 clients are made. The lockfile pins an AWS SDK release that supports Node 20;
 * the SDK's notice that later releases need Node 22 would otherwise open every process's output.
 */
export function newS3Client(config: S3ClientConfig): S3Client {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client(config);
}

export function storageSettings(deps: ActivityDeps) {
  const storage = deps.inventory.storage;
  if (!storage) throw new Error('the inventory has no storage section');
  return storage;
}

export function offsiteSettings(deps: ActivityDeps) {
  const offsite = deps.inventory.backup.offsite;
  if (!offsite) throw new Error('the inventory has no backup.offsite section');
  return offsite;
}

/**
 * An S3 client for the inventory's bucket, or its off-site copy. The SDK's own retries are off
 * (`maxAttempts: 1`): retries belong to Temporal, which records them and backs off durably.
 */
export function createS3Client(deps: ActivityDeps, target: 'primary' | 'offsite' = 'primary'): S3Client {
  const storage = target === 'primary' ? storageSettings(deps) : offsiteSettings(deps);
  const field = target === 'primary' ? 'storage' : 'backup.offsite';
  return newS3Client({
    endpoint: storage.endpoint,
    region: storage.region,
    forcePathStyle: storage.forcePathStyle,
    maxAttempts: 1,
    credentials: {
      accessKeyId: deps.secret(storage.accessKeyIdEnv, `${field}.accessKeyIdEnv`),
      secretAccessKey: deps.secret(storage.secretAccessKeyEnv, `${field}.secretAccessKeyEnv`),
    },
  });
}
