import { HeadBucketCommand } from '@aws-sdk/client-s3';
import type { ActivityDeps } from './deps';
import { timedProbe, type ProbeResult } from './probe-result';
import { createS3Client, storageSettings } from './storage-client';

export function createStorageActivities(deps: ActivityDeps) {
  return {
    /** HEAD of the backup bucket: reachable, exists, and our credentials may use it. */
    async probeBucket(): Promise<ProbeResult> {
      const { bucket, endpoint } = storageSettings(deps);
      return timedProbe(async () => {
        const s3 = createS3Client(deps);
        try {
          await s3.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: AbortSignal.timeout(5000) });
          return { status: 'up', detail: { bucket, endpoint: endpoint ?? 'aws' } };
        } catch (err) {
          const httpStatus = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
          if (httpStatus === 404) throw new Error(`bucket ${bucket} does not exist`);
          if (httpStatus === 403) throw new Error(`access to bucket ${bucket} denied: check the credentials`);
          throw err;
        } finally {
          s3.destroy();
        }
      });
    },
  };
}
