import {
  AbortMultipartUploadCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/activity';
import {
  findWalGaps,
  backupKindPrefix,
  backupObjectKey,
  manifestFileName,
  walKeyPrefix,
  drillKeyPrefix,
  inspectionKeyPrefix,
  type BackupKind,
  type BackupManifest,
} from '../inventory/backup-catalog';
import { summarizeDrill, type DrillReport } from '../workflows/drill-report';
import { ErrorType } from '../workflows/error-types';
import type { InspectionReport } from '../workflows/inspection-report';
import type { ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { createS3Client, storageSettings } from './storage-client';
import { checksumProblem, hashStoredObject, listKeys } from './stored-objects';
import { ByteMeter } from './stream-upload';

/** A backup id whose objects exist without a manifest: a failed or running attempt. */
export interface IncompleteBackup {
  kind: BackupKind;
  id: string;
  keys: string[];
  lastModified: string;
}

export interface BackupListing {
  complete: BackupManifest[];
  incomplete: IncompleteBackup[];
}

/** The object metadata key under which each archived WAL segment carries its SHA-256. */
export const walChecksumMetadata = 'sha256';

export interface VerifyResult {
  kind: BackupKind | 'wal';
  id: string;
  key: string;
  ok: boolean;
  /** Why not, with the numbers: "sha256 3f2a… does not match the manifest's 9bc1…". */
  problem?: string;
}

export function createBackupCatalogActivities(deps: ActivityDeps) {
  const withS3 = async <T>(work: (s3: S3Client, bucket: string) => Promise<T>): Promise<T> => {
    const s3 = createS3Client(deps);
    try {
      return await work(s3, storageSettings(deps).bucket);
    } finally {
      s3.destroy();
    }
  };

  return {
    /**
     * Writes a backup's manifest — the step that makes the backup exist — after checking that the
     * stored object is there with the size the manifest records. Idempotent: same manifest, same key.
     */
    async writeBackupManifest(manifest: BackupManifest): Promise<string> {
      return withS3(async (s3, bucket) => {
        const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: manifest.object.key }));
        if (head.ContentLength !== manifest.object.size) {
          throw ApplicationFailure.nonRetryable(
            `object ${manifest.object.key} has ${head.ContentLength} bytes, the manifest says ${manifest.object.size}`,
            ErrorType.ChecksumMismatch,
          );
        }
        const key = backupObjectKey(deps.inventory, manifest.kind, manifest.id, manifestFileName);
        await s3.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: JSON.stringify(manifest, null, 2),
            ContentType: 'application/json',
          }),
        );
        return key;
      });
    },

    /** Every backup of a kind: complete ones (with their manifests) and leftovers without one. */
    async listBackups(kind: BackupKind): Promise<BackupListing> {
      return withS3(async (s3, bucket) => {
        const prefix = backupKindPrefix(deps.inventory, kind);
        const byId = new Map<string, { keys: string[]; lastModified: Date; manifestKey?: string }>();
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
          for (const object of page.Contents ?? []) {
            const [id, file] = object.Key!.slice(prefix.length).split('/', 2);
            if (!id || !file) continue;
            const entry = byId.get(id) ?? { keys: [], lastModified: new Date(0) };
            entry.keys.push(object.Key!);
            if (object.LastModified && object.LastModified > entry.lastModified) entry.lastModified = object.LastModified;
            if (file === manifestFileName) entry.manifestKey = object.Key!;
            byId.set(id, entry);
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);

        const listing: BackupListing = { complete: [], incomplete: [] };
        for (const [id, entry] of [...byId].sort(([a], [b]) => a.localeCompare(b))) {
          if (entry.manifestKey) {
            listing.complete.push(await readJson<BackupManifest>(s3, bucket, entry.manifestKey));
          } else {
            listing.incomplete.push({ kind, id, keys: entry.keys, lastModified: entry.lastModified.toISOString() });
          }
        }
        return listing;
      });
    },

    /**
     * Deletes one backup: its manifest first, so a deletion cut short leaves an incomplete backup
     * (cleaned up later), never a manifest that promises data which is gone. Idempotent.
     */
    async deleteBackup({ kind, id }: { kind: BackupKind; id: string }): Promise<number> {
      return withS3(async (s3, bucket) => {
        const prefix = `${backupKindPrefix(deps.inventory, kind)}${id}/`;
        const manifestKey = `${prefix}${manifestFileName}`;
        await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: [{ Key: manifestKey }] } }));
        const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
        const keys = (listed.Contents ?? []).map((o) => ({ Key: o.Key! }));
        if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys } }));
        return keys.length + 1;
      });
    },

    /** Aborts multipart uploads of a kind started more than `olderThanHours` ago: dead attempts. */
    async abortAbandonedUploads({ kind, olderThanHours }: { kind: BackupKind; olderThanHours: number }): Promise<string[]> {
      return withS3(async (s3, bucket) => {
        const prefix = backupKindPrefix(deps.inventory, kind);
        const cutoff = Date.now() - olderThanHours * 3600 * 1000;
        const aborted: string[] = [];
        // Listed without a prefix and filtered here: MinIO matches a listing prefix only as a whole key.
        let keyMarker: string | undefined;
        let uploadIdMarker: string | undefined;
        do {
          const page = await s3.send(
            new ListMultipartUploadsCommand({ Bucket: bucket, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
          );
          for (const upload of page.Uploads ?? []) {
            if (!upload.Key?.startsWith(prefix) || !upload.Initiated || upload.Initiated.getTime() >= cutoff) continue;
            await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
            aborted.push(upload.Key);
          }
          keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
          uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
        } while (keyMarker);
        return aborted;
      });
    },

    /**
     * Deletes archived WAL segments before `segment`: ones no retained base backup can use.
     * Timeline history files are tiny and always kept.
     * @returns the segments deleted (or that would be, with dryRun)
     */
    async pruneWalBefore({ segment, dryRun }: { segment: string; dryRun: boolean }): Promise<string[]> {
      return withS3(async (s3, bucket) => {
        const prefix = walKeyPrefix(deps.inventory);
        const doomed: string[] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
          for (const object of page.Contents ?? []) {
            const name = object.Key!.slice(prefix.length, prefix.length + 24);
            if (/^[0-9A-F]{24}$/.test(name) && name < segment) doomed.push(object.Key!);
          }
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        for (let i = 0; !dryRun && i < doomed.length; i += 1000) {
          await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: doomed.slice(i, i + 1000).map((Key) => ({ Key })) } }));
        }
        return doomed.map((key) => key.slice(prefix.length));
      });
    },

    /**
     * Checks the WAL archive that point-in-time recovery replays: no hole in the chain from `fromSegment`
     * (the oldest base backup's first segment) to the newest, and each segment's stored bytes still match
     * the SHA-256 recorded when it was archived — all of them, or with `newestOnly` just the newest.
     */
    async verifyWalArchive({ fromSegment, newestOnly }: { fromSegment: string | null; newestOnly: boolean }): Promise<VerifyResult[]> {
      return withS3(async (s3, bucket) => {
        const prefix = walKeyPrefix(deps.inventory);
        const keys = await listKeys(s3, bucket, prefix);
        const segmentKeys = keys.filter((k) => /^[0-9A-F]{24}(\.|$)/.test(k.slice(prefix.length))).sort();
        const segments = segmentKeys.map((k) => k.slice(prefix.length, prefix.length + 24));
        const chainStart = fromSegment ?? segments[0];
        const results: VerifyResult[] = [];
        if (chainStart) {
          const gaps = findWalGaps(segments, chainStart);
          results.push({
            kind: 'wal',
            id: `chain from ${chainStart}`,
            key: prefix,
            ok: gaps.length === 0 && segments.length > 0,
            ...(segments.length === 0
              ? { problem: 'no WAL archived: point-in-time recovery is impossible' }
              : gaps.length > 0
                ? { problem: `segments missing from the archive: ${gaps.join(', ')}` }
                : {}),
          });
        }
        const toCheck = newestOnly ? segmentKeys.slice(-1) : segmentKeys.filter((k) => !chainStart || k.slice(prefix.length) >= chainStart);
        let checked = 0;
        await withProgressHeartbeat(
          () => ({ segmentsChecked: checked, of: toCheck.length }),
          async () => {
            for (const key of toCheck) {
              results.push(await verifyWalSegment(s3, bucket, key));
              checked++;
            }
          },
        );
        return results;
      });
    },

    /** Stores a drill's report (JSON, and a summary for people) under `drills/<drillId>/`. Idempotent. */
    async writeDrillReport(report: DrillReport): Promise<string> {
      return withS3(async (s3, bucket) => {
        const prefix = `${drillKeyPrefix(deps.inventory)}${report.drillId}/`;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}summary.txt`, Body: summarizeDrill(report), ContentType: 'text/plain' }));
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}report.json`, Body: JSON.stringify(report, null, 2), ContentType: 'application/json' }));
        return `${prefix}report.json`;
      });
    },

    /** Stores a daily inspection's report, JSON and Markdown, under `inspections/<id>/`. Idempotent. */
    async writeInspectionReport({ id, report, markdown }: { id: string; report: unknown; markdown: string }): Promise<string[]> {
      return withS3(async (s3, bucket) => {
        const prefix = `${inspectionKeyPrefix(deps.inventory)}${id}/`;
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}report.md`, Body: markdown, ContentType: 'text/markdown; charset=utf-8' }));
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}report.json`, Body: JSON.stringify(report, null, 2), ContentType: 'application/json' }));
        return [`${prefix}report.json`, `${prefix}report.md`];
      });
    },

    /** The newest daily inspection report (ids sort by time), or null before the first. */
    async latestInspection(): Promise<InspectionReport | null> {
      return withS3(async (s3, bucket) => {
        const [newest] = (await listKeys(s3, bucket, inspectionKeyPrefix(deps.inventory))).filter((k) => k.endsWith('/report.json')).sort().reverse();
        return newest ? readJson<InspectionReport>(s3, bucket, newest) : null;
      });
    },

    /** The newest drill report, and the newest that passed (drill ids sort by time). */
    async latestDrills(): Promise<{ latest: DrillReport | null; latestPassed: DrillReport | null }> {
      return withS3(async (s3, bucket) => {
        const reports = (await listKeys(s3, bucket, drillKeyPrefix(deps.inventory))).filter((k) => k.endsWith('/report.json')).sort().reverse();
        let latest: DrillReport | null = null;
        for (const key of reports) {
          const report = await readJson<DrillReport>(s3, bucket, key);
          latest ??= report;
          if (report.ok) return { latest, latestPassed: report };
        }
        return { latest, latestPassed: null };
      });
    },

    /** Re-reads a stored object and checks its size and SHA-256 against the manifest. */
    async verifyBackupObject(manifest: BackupManifest): Promise<VerifyResult> {
      const { key } = manifest.object;
      return withS3(async (s3, bucket) => {
        const meter = new ByteMeter(true);
        const stored = await withProgressHeartbeat(
          () => ({ bytesRead: meter.bytes, of: manifest.object.size }),
          () => hashStoredObject(s3, bucket, key, meter),
        );
        const problem = checksumProblem(key, stored, manifest.object);
        return { kind: manifest.kind, id: manifest.id, key, ok: !problem, ...(problem ? { problem } : {}) };
      });
    },
  };
}

async function verifyWalSegment(s3: S3Client, bucket: string, key: string): Promise<VerifyResult> {
  const result = { kind: 'wal' as const, id: key.split('/').pop()!, key };
  const stored = await hashStoredObject(s3, bucket, key);
  const recorded = stored?.metadata[walChecksumMetadata];
  if (stored && !recorded) return { ...result, ok: false, problem: 'archived without a recorded sha256' };
  const problem = checksumProblem(key, stored, { sha256: recorded ?? '' });
  return { ...result, ok: !problem, ...(problem ? { problem: problem.replace("the manifest's", 'the recorded') } : {}) };
}

async function readJson<T>(s3: S3Client, bucket: string, key: string): Promise<T> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await response.Body!.transformToString()) as T;
}
