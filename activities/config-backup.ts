import { readdir, stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { backupSource, backupObjectKey, type StoredBackup } from '../inventory/backup-catalog';
import { ErrorType } from '../workflows/error-types';
import { spawnPiped, toolVersions } from './child-process';
import { assertLocalHost, type ActivityDeps } from './deps';
import { EncryptStream, parseKey } from './encryption';
import { withProgressHeartbeat } from './heartbeat';
import { createS3Client, storageSettings } from './storage-client';
import { abortStaleUploads, ByteMeter, startUpload } from './stream-upload';

export interface ConfigBackupResult extends StoredBackup {
  keyId: string;
  paths: string[];
  files: number;
}

export function createConfigBackupActivities(deps: ActivityDeps) {
  return {
    /**
     * A tar.gz of the host's configured paths (compose files, .env, nginx config), encrypted with
     * AES-256-GCM before it leaves the host, since .env holds secrets. Runs on that host's queue.
     * @throws ApplicationFailure `ConfigPathMissing` or `InvalidKey` (non-retryable)
     */
    async backupConfigFiles({ host, backupId }: { host: string; backupId: string }): Promise<ConfigBackupResult> {
      assertLocalHost(deps, host);
      const { configPaths, encryption } = deps.inventory.backup;
      const paths = configPaths.find((entry) => entry.host === host)?.paths ?? [];
      if (paths.length === 0 || !encryption) {
        throw ApplicationFailure.nonRetryable(`backup.configPaths names no paths for host ${host}`, ErrorType.InvalidInput);
      }
      let key: Buffer;
      try {
        key = parseKey(deps.secret(encryption.keyEnv, 'backup.encryption.keyEnv'), encryption.keyEnv);
      } catch (err) {
        if (err instanceof ApplicationFailure) throw err;
        throw ApplicationFailure.nonRetryable((err as Error).message, ErrorType.InvalidKey);
      }
      const files = await countFiles(paths);
      const startedAt = new Date().toISOString();
      const objectKey = backupObjectKey(deps.inventory, 'config', backupId, 'config.tar.gz.enc');
      const { bucket } = storageSettings(deps);
      const s3 = createS3Client(deps);
      const raw = new ByteMeter(false);
      try {
        return await withProgressHeartbeat(
          () => ({ archivedBytes: raw.bytes }),
          async () => {
            await abortStaleUploads(s3, bucket, objectKey);
            // Relative to / so the archive restores to the same absolute paths with `tar -C /`.
            const tar = spawnPiped('tar', ['-czf', '-', '-C', '/', ...paths.map((p) => p.replace(/^\/+/, ''))]);
            tar.child.stdin.end();
            const encrypt = new EncryptStream(key);
            const [, , stored] = await Promise.all([
              pipeline(tar.child.stdout, raw, encrypt),
              tar.exited,
              startUpload({ s3, bucket, key: objectKey, source: encrypt, signal: Context.current().cancellationSignal }).done,
            ]);
            return {
              object: { key: objectKey, size: stored.size, sha256: stored.sha256 },
              rawSize: raw.bytes,
              compression: 'gzip',
              source: backupSource.config(host),
              startedAt,
              finishedAt: new Date().toISOString(),
              keyId: encryption.keyId,
              paths,
              files,
              tools: await toolVersions(['tar'], 'none'),
            };
          },
        );
      } finally {
        s3.destroy();
      }
    },
  };
}

/** Files under the paths; a path that does not exist is a configuration error, said at once. */
async function countFiles(paths: string[]): Promise<number> {
  const missing: string[] = [];
  let files = 0;
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) missing.push(path);
    else if (info.isDirectory()) files += (await readdir(path, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
    else files += 1;
  }
  if (missing.length > 0) {
    throw ApplicationFailure.nonRetryable(`configured paths do not exist: ${missing.join(', ')}`, ErrorType.ConfigPathMissing);
  }
  return files;
}
