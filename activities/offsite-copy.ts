import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { backupObjectKey, manifestFileName, type BackupManifest } from '../inventory/backup-catalog';
import type { ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { createS3Client, offsiteSettings, storageSettings } from './storage-client';
import { abortStaleUploads, startUpload } from './stream-upload';

export function createOffsiteCopyActivities(deps: ActivityDeps) {
  return {
    /**
     * Copies one complete backup to the off-site bucket, streaming, and checks the copy's SHA-256
     * against the manifest before writing the manifest there — last, as at home.
     * @returns false when the off-site bucket already has it (its manifest exists)
     */
    async copyBackupOffsite(manifest: BackupManifest): Promise<boolean> {
      const home = createS3Client(deps);
      const away = createS3Client(deps, 'offsite');
      const from = storageSettings(deps).bucket;
      const to = offsiteSettings(deps).bucket;
      const manifestKey = backupObjectKey(deps.inventory, manifest.kind, manifest.id, manifestFileName);
      try {
        const present = await away.send(new HeadObjectCommand({ Bucket: to, Key: manifestKey })).then(() => true, () => false);
        if (present) return false;
        await abortStaleUploads(away, to, manifest.object.key);
        const source = await home.send(new GetObjectCommand({ Bucket: from, Key: manifest.object.key }));
        const upload = startUpload({ s3: away, bucket: to, key: manifest.object.key, source: source.Body as Readable, expectedBytes: manifest.object.size });
        const copied = await withProgressHeartbeat(() => ({ copiedBytes: upload.meter.bytes, of: manifest.object.size }), () => upload.done);
        if (copied.sha256 !== manifest.object.sha256 || copied.size !== manifest.object.size) {
          throw new Error(`off-site copy of ${manifest.object.key} has sha256 ${copied.sha256}, the manifest says ${manifest.object.sha256}`);
        }
        await away.send(new PutObjectCommand({ Bucket: to, Key: manifestKey, Body: JSON.stringify(manifest, null, 2), ContentType: 'application/json' }));
        return true;
      } finally {
        home.destroy();
        away.destroy();
      }
    },
  };
}
