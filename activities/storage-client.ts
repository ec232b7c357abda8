import { S3Client } from '@aws-sdk/client-s3';
import type { ActivityDeps } from './deps';

export function storageSettings(deps: ActivityDeps) {
  const storage = deps.inventory.storage;
  if (!storage) throw new Error('the inventory has no storage section');
  return storage;
}

/**
 * An S3 client for the inventory's bucket. The SDK's own retries are off (`maxAttempts: 1`):
 * retries belong to Temporal, which records them and backs off durably.
 */
export function createS3Client(deps: ActivityDeps): S3Client {
  const storage = storageSettings(deps);
  return new S3Client({
    endpoint: storage.endpoint,
    region: storage.region,
    forcePathStyle: storage.forcePathStyle,
    maxAttempts: 1,
    credentials: {
      accessKeyId: deps.secret(storage.accessKeyIdEnv, 'storage.accessKeyIdEnv'),
      secretAccessKey: deps.secret(storage.secretAccessKeyEnv, 'storage.secretAccessKeyEnv'),
    },
  });
}
