import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { newS3Client } from '../../../activities/storage-client';
import { spawnDaemon, stopPidFile, waitUntil } from '../daemon';
import { cachedBinary, type SandboxLayout } from '../layout';

export const sandboxBucket = 'tego-backups';
/** The off-site copy's bucket; on the same server here, elsewhere in production. */
export const sandboxOffsiteBucket = 'tego-backups-offsite';

/** MinIO, a real S3-compatible server built from source by setup.sh, with the backup bucket. */
export async function startMinio(layout: SandboxLayout, credentials: { accessKeyId: string; secretAccessKey: string }) {
  const binary = cachedBinary('minio');
  await access(binary).catch(() => {
    throw new Error(`MinIO not found at ${binary}: run scripts/setup.sh first`);
  });
  await mkdir(layout.paths.minio, { recursive: true });
  await spawnDaemon({
    command: binary,
    args: [
      'server', layout.paths.minio,
      '--address', `127.0.0.1:${layout.ports.minio}`,
      '--console-address', `127.0.0.1:${layout.ports.minioConsole}`,
      '--quiet',
    ],
    env: {
      ...process.env,
      MINIO_ROOT_USER: credentials.accessKeyId,
      MINIO_ROOT_PASSWORD: credentials.secretAccessKey,
      MINIO_BROWSER: 'off',
      MINIO_UPDATE: 'off',
    },
    logFile: join(layout.paths.logs, 'minio.log'),
    pidFile: join(layout.paths.pids, 'minio.pid'),
  });
  const endpoint = `http://127.0.0.1:${layout.ports.minio}`;
  await waitUntil(
    async () => (await fetch(`${endpoint}/minio/health/ready`)).ok,
    60_000,
    250,
    `MinIO at ${endpoint}`,
  );
  const s3 = newS3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials });
  try {
    for (const bucket of [sandboxBucket, sandboxOffsiteBucket]) {
      await s3.send(new CreateBucketCommand({ Bucket: bucket })).catch((err: unknown) => {
        // A restart over the same data directory finds its buckets already there.
        if ((err as { name?: string }).name !== 'BucketAlreadyOwnedByYou') throw err;
      });
    }
  } finally {
    s3.destroy();
  }
  return { endpoint };
}

export async function stopMinio(layout: SandboxLayout): Promise<void> {
  await stopPidFile(join(layout.paths.pids, 'minio.pid'));
}
