import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Context } from '@temporalio/activity';
import { walKeyPrefix } from '../inventory/backup-catalog';
import { runTool, spawnPiped } from './child-process';
import { compress, compressionExtension } from './compression';
import { assertLocalHost, type ActivityDeps } from './deps';
import { postgresSettings } from './postgres-connection';
import { createS3Client, storageSettings } from './storage-client';
import { walChecksumMetadata } from './backup-catalog';

export interface WalArchiveProgress {
  uploaded: number;
  lastSegment: string | null;
  /** Set when the primary is now on another host (a switchover or failover): the workflow moves there. */
  primaryMovedTo?: string;
}

/** Completed segments (24 hex digits) and timeline history files; `.partial` ones are still being written. */
const archivable = /^([0-9A-F]{24}|[0-9A-F]{8}\.history)$/;

export function createWalArchiveActivities(deps: ActivityDeps) {
  return {
    /**
     * Runs pg_receivewal through the replication slot for `maxSeconds`, uploading each completed
     * segment (compressed) and only then removing it from the staging
     * directory. Segments left by a previous run are uploaded first: nothing received is lost.
     * Runs on the primary's host, whose staging directory is durable.
     */
    async archiveWal({ maxSeconds }: { maxSeconds: number }): Promise<WalArchiveProgress> {
      const pg = postgresSettings(deps.inventory);
      const node = pg.nodes.find((n) => n.role === 'primary')!;
      const { slot, stagingDirectory } = deps.inventory.backup.walArchive;
      if (deps.localHost !== undefined && deps.localHost !== node.host) {
        // The primary moved: upload what this host received from it, then let the workflow follow it.
        const s3 = createS3Client(deps);
        const progress: WalArchiveProgress = { uploaded: 0, lastSegment: null, primaryMovedTo: node.host };
        await mkdir(stagingDirectory, { recursive: true });
        await uploadCompleted(deps, s3, stagingDirectory, progress).finally(() => s3.destroy());
        return progress;
      }
      assertLocalHost(deps, node.host);
      await mkdir(stagingDirectory, { recursive: true });
      const env = { ...process.env, PGPASSWORD: deps.secret(pg.passwordEnv, 'postgres.passwordEnv') };
      const connection = ['-h', node.address, '-p', String(node.port), '-U', pg.user, '--no-password'];
      await runTool('pg_receivewal', [...connection, '--slot', slot, '--create-slot', '--if-not-exists'], env);

      const context = Context.current();
      const progress: WalArchiveProgress = { uploaded: 0, lastSegment: null };
      const s3 = createS3Client(deps);
      // A receiver left by a worker that was killed outright still holds the slot: end it first.
      const pidFile = join(stagingDirectory, 'pg_receivewal.pid');
      await stopLeftoverReceiver(pidFile);
      // --no-loop: a lost connection ends the run, and Temporal's retry policy decides when to retry.
      const receiver = spawnPiped('pg_receivewal', [...connection, '--slot', slot, '-D', stagingDirectory, '--no-loop'], env);
      receiver.child.stdin.end();
      await writeFile(pidFile, String(receiver.child.pid));
      let receiverDone = false;
      const receiverExit = receiver.exited.finally(() => (receiverDone = true));
      const deadline = Date.now() + maxSeconds * 1000;
      try {
        while (!receiverDone && Date.now() < deadline && !context.cancellationSignal.aborted) {
          await uploadCompleted(deps, s3, stagingDirectory, progress);
          context.heartbeat(progress);
          await Promise.race([receiverExit.catch(() => undefined), context.sleep(1000)]);
        }
        if (receiverDone) await receiverExit; // throws the receiver's error, for Temporal to retry
      } finally {
        if (!receiverDone) receiver.child.kill('SIGINT');
        await receiverExit.catch(() => undefined);
        await rm(pidFile, { force: true });
        await uploadCompleted(deps, s3, stagingDirectory, progress).catch(() => undefined);
        s3.destroy();
      }
      // Cancelled (the workflow, or this worker shutting down): say so, rather than finish normally,
      // so the workflow stops instead of continuing as new, or the activity is retried elsewhere.
      if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason;
      return progress;
    },
  };
}

async function uploadCompleted(deps: ActivityDeps, s3: S3Client, staging: string, progress: WalArchiveProgress): Promise<void> {
  const { bucket } = storageSettings(deps);
  const { method } = deps.inventory.backup.compression;
  const files = (await readdir(staging)).filter((f) => archivable.test(f)).sort();
  for (const file of files) {
    const key = `${walKeyPrefix(deps.inventory)}${file}${compressionExtension[method]}`;
    // Already uploaded by a run that died before removing it: idempotent, upload once.
    const exists = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).then(() => true, () => false);
    if (!exists) {
      // A segment is at most 16 MiB, so it is compressed in memory and its checksum is known before the
      // upload starts: it travels as object metadata, which backupVerifyWorkflow checks later.
      const compressed = compress({ file: join(staging, file) }, deps.inventory.backup.compression);
      const [, body] = await Promise.all([compressed.done, readAll(compressed.output)]);
      const sha256 = createHash('sha256').update(body).digest('hex');
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: { [walChecksumMetadata]: sha256 } }));
    }
    await rm(join(staging, file));
    progress.uploaded += 1;
    progress.lastSegment = file;
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function stopLeftoverReceiver(pidFile: string): Promise<void> {
  const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (!pid) return;
  const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
  if (command.includes('pg_receivewal')) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 50 && (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await rm(pidFile, { force: true });
}
