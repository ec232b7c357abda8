import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { ApplicationFailure, Context } from '@temporalio/activity';
import Redis from 'ioredis';
import { Client } from 'pg';
import { walKeyPrefix, type BackupManifest } from '../inventory/backup-catalog';
import { drillHostOf } from '../inventory/topology';
import { ErrorType } from '../workflows/error-types';
import { spawnPiped } from './child-process';
import { assertLocalHost, type ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { countRows } from './postgres-backup';
import { postgresSettings } from './postgres-connection';
import { createS3Client, storageSettings } from './storage-client';
import { decompressInto, streamRestore, withStoredObject } from './restore-stream';
import { listKeys } from './stored-objects';
import { ByteMeter } from './stream-upload';
import { walChecksumMetadata } from './backup-catalog';

/**
 * Scratch copies for restore drills, on the drill host: a PostgreSQL cluster in a directory of its own
 * (initdb'd for a dump, or unpacked from a base backup for point-in-time recovery) and a Redis loaded
 * from an RDB. Never the production servers: a drill proves a backup restores without touching them.
 * Everything lives under `restore.scratchDirectory/<drillId>`; `dropScratch` removes it all, and every
 * start first clears what a dead attempt left, so retries are safe.
 */

const drillIdPattern = /^[A-Za-z0-9._-]{1,120}$/;

export interface ScratchPostgres {
  port: number;
  /** Whose password opens it: one generated for this scratch cluster, or the primary's (a PITR copy has its roles). */
  auth: 'scratch' | 'primary';
}

export interface ScratchRestoreResult {
  database: string;
  bytesRead: number;
  seconds: number;
}

export interface AssertionResult {
  database: string;
  sql: string;
  ok: boolean;
  value: string;
}

export function createScratchActivities(deps: ActivityDeps) {
  const settings = () => deps.inventory.restore;
  const dirOf = (drillId: string) => {
    if (!drillIdPattern.test(drillId)) throw ApplicationFailure.nonRetryable(`bad drill id "${drillId}"`, ErrorType.InvalidInput);
    return join(settings().scratchDirectory, drillId);
  };
  const drillHost = () => drillHostOf(deps.inventory)!;

  /** Opens the scratch cluster of `drillId` as its superuser. */
  const connectScratch = async (drillId: string, database = 'postgres'): Promise<Client> => {
    const dir = dirOf(drillId);
    const info = JSON.parse(await readFile(join(dir, 'pg.json'), 'utf8')) as ScratchPostgres;
    const pg = postgresSettings(deps.inventory);
    const client = new Client({
      host: '127.0.0.1',
      port: info.port,
      user: info.auth === 'primary' ? pg.user : 'postgres',
      password: info.auth === 'primary' ? deps.secret(pg.passwordEnv, 'postgres.passwordEnv') : (await readFile(join(dir, 'pg.password'), 'utf8')).trim(),
      database,
      application_name: 'tego-ops-drill',
      statement_timeout: 0,
    });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  return {
    /**
     * Starts an empty PostgreSQL of the backup's major version in the drill's directory, on a free
     * loopback port, with a password of its own. Durability is off: it is thrown away after the drill.
     */
    async startScratchPostgres({ drillId, manifest }: { drillId: string; manifest: BackupManifest }): Promise<ScratchPostgres> {
      const serverVersion = serverVersionOf(manifest);
      assertLocalHost(deps, drillHost());
      const dir = dirOf(drillId);
      const pgDir = join(dir, 'pg');
      await stopScratchPostgres(deps, pgDir);
      await rm(pgDir, { recursive: true, force: true });
      const owner = await scratchOwner(settings().runAs);
      await makeOwnedDir(dir, owner);
      const password = randomBytes(24).toString('base64url');
      await writeOwnedFile(join(dir, 'pg.password'), `${password}\n`, owner);
      const bin = binDirectory(deps, serverVersion);
      await runAs(owner, join(bin, 'initdb'), ['-D', pgDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${join(dir, 'pg.password')}`, '-E', 'UTF8', '--no-sync']);
      const port = await freePort();
      await startCluster(owner, bin, pgDir, dir, port, []);
      const info: ScratchPostgres = { port, auth: 'scratch' };
      await writeFile(join(dir, 'pg.json'), JSON.stringify(info));
      return info;
    },

    /**
     * Streams a dump from the bucket through decompression into `pg_restore` on the scratch cluster, in
     * one pass, hashing the stored bytes on the way; a mismatch with the manifest fails the restore
     * (naming the object and both checksums), even when the damage did not stop pg_restore.
     * @throws ApplicationFailure `ChecksumMismatch` (non-retryable) for an altered or truncated object
     * @throws ApplicationFailure `RestoreFailed` (non-retryable) when pg_restore rejects an intact dump
     */
    async restoreDumpToScratch({ drillId, manifest }: { drillId: string; manifest: BackupManifest }): Promise<ScratchRestoreResult> {
      assertLocalHost(deps, drillHost());
      const database = databaseOf(manifest);
      const started = Date.now();
      const admin = await connectScratch(drillId);
      try {
        // FORCE: a pg_restore left by a killed worker may still hold a connection.
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
        await admin.query(`CREATE DATABASE ${quoteIdent(database)}`);
      } finally {
        await admin.end();
      }
      const dir = dirOf(drillId);
      const info = JSON.parse(await readFile(join(dir, 'pg.json'), 'utf8')) as ScratchPostgres;
      const password = (await readFile(join(dir, 'pg.password'), 'utf8')).trim();
      const { bytesRead } = await streamRestore(deps, manifest, {
        host: '127.0.0.1',
        port: info.port,
        user: 'postgres',
        password,
        database,
        // A scratch copy has none of production's roles.
        extraArgs: ['--no-owner', '--no-privileges'],
      });
      return { database, bytesRead, seconds: (Date.now() - started) / 1000 };
    },

    /** Exact row counts of every table of a scratch database, as the backup manifests record them. */
    async countScratchRows({ drillId, database }: { drillId: string; database: string }): Promise<Record<string, number>> {
      assertLocalHost(deps, drillHost());
      const db = await connectScratch(drillId, database);
      try {
        return await withProgressHeartbeat(() => ({ phase: `counting the rows of ${database}` }), () => countRows(db));
      } finally {
        await db.end();
      }
    },

    /** Runs the `restore.assertions` (and the drill's own) for `database` on its scratch copy; each must return true. */
    async runScratchAssertions({ drillId, database, extra = [] }: { drillId: string; database: string; extra?: { database?: string; sql: string }[] }): Promise<AssertionResult[]> {
      assertLocalHost(deps, drillHost());
      const results: AssertionResult[] = [];
      const forDatabase = [...settings().assertions, ...extra].filter((a) => (a.database ?? postgresSettings(deps.inventory).database) === database);
      for (const assertion of forDatabase) {
        const db = await connectScratch(drillId, database);
        try {
          const { rows } = await withProgressHeartbeat(() => ({ phase: `asserting ${assertion.sql}` }), () => db.query<Record<string, unknown>>(assertion.sql));
          const value = rows[0] ? Object.values(rows[0])[0] : undefined;
          results.push({ database, sql: assertion.sql, ok: value === true, value: String(value) });
        } catch (err) {
          results.push({ database, sql: assertion.sql, ok: false, value: `error: ${(err as Error).message}` });
        } finally {
          await db.end();
        }
      }
      return results;
    },

    /**
     * Point-in-time recovery into a scratch cluster: unpacks the base backup, fetches the archived WAL
     * from its first segment on (each checked against its recorded SHA-256), and replays it up to
     * `targetTime`, then promotes. Opens with the primary's roles and password.
     * @throws ApplicationFailure `TargetOutsideWal` (non-retryable) when the WAL ends before the target
     */
    async recoverScratchToTime({ drillId, manifest, targetTime }: { drillId: string; manifest: BackupManifest; targetTime: string }): Promise<ScratchPostgres & { walSegments: number }> {
      assertLocalHost(deps, drillHost());
      const serverVersion = serverVersionOf(manifest);
      const dir = dirOf(drillId);
      const pgDir = join(dir, 'pg');
      const archive = join(dir, 'wal-archive');
      await stopScratchPostgres(deps, pgDir);
      await rm(dir, { recursive: true, force: true });
      const owner = await scratchOwner(settings().runAs);
      await makeOwnedDir(dir, owner);
      await makeOwnedDir(pgDir, owner);
      await makeOwnedDir(archive, owner);
      await withStoredObject(deps, manifest, new ByteMeter(true), async (body) => {
        const tar = spawnPiped('tar', ['-x', '-C', pgDir]);
        tar.child.stdout.resume();
        await decompressInto(body, manifest.compression, tar.child.stdin, tar.exited, (err) => err);
      });
      const walSegments = await fetchWal(deps, String(manifest.details.startSegment), archive);
      // The primary's own settings stay, but this copy listens on its own port, archives nothing,
      // replays from our archive, and accepts only loopback connections.
      const port = await freePort();
      await writeFile(join(pgDir, 'pg_hba.conf'), 'local all all peer\nhost all all 127.0.0.1/32 scram-sha-256\n');
      if (!(await stat(join(pgDir, 'postgresql.conf')).catch(() => undefined))) await writeFile(join(pgDir, 'postgresql.conf'), '');
      await appendFile(
        join(pgDir, 'postgresql.auto.conf'),
        [
          '',
          `# tego-ops restore drill ${drillId}`,
          `hba_file = '${pgDir}/pg_hba.conf'`,
          "archive_mode = 'off'",
          "primary_conninfo = ''",
          `restore_command = 'cp ${archive}/%f %p'`,
          // PostgreSQL's own spelling: it rejects ISO 8601's "T" and "Z" here.
          `recovery_target_time = '${targetTime.replace('T', ' ').replace(/Z$/, '+00')}'`,
          "recovery_target_action = 'promote'",
          '',
        ].join('\n'),
      );
      await writeFile(join(pgDir, 'recovery.signal'), '');
      await rm(join(pgDir, 'standby.signal'), { force: true });
      await chownTree(pgDir, owner);
      await chmod(pgDir, 0o700);
      const bin = binDirectory(deps, serverVersion);
      try {
        await startCluster(owner, bin, pgDir, dir, port, ['-c', 'hot_standby=on']);
      } catch (err) {
        const log = await readFile(join(dir, 'pg.log'), 'utf8').catch(() => '');
        if (/recovery ended before configured recovery target was reached/.test(log)) {
          throw ApplicationFailure.nonRetryable(
            `the archived WAL ends before ${targetTime}: point-in-time recovery to it is impossible (WAL replayed from ${String(manifest.details.startSegment)}, ${walSegments} segments)`,
            ErrorType.TargetOutsideWal,
          );
        }
        throw err;
      }
      const info: ScratchPostgres = { port, auth: 'primary' };
      await writeFile(join(dir, 'pg.json'), JSON.stringify(info));
      await waitForPromotion(deps, dir, connectScratch, drillId, targetTime);
      return { ...info, walSegments };
    },

    /**
     * Starts a scratch Redis on the drill host from a backed-up RDB (checked against its manifest) and
     * reports how many keys it loaded.
     */
    async restoreRedisToScratch({ drillId, manifest }: { drillId: string; manifest: BackupManifest }): Promise<{ keys: number; port: number }> {
      assertLocalHost(deps, drillHost());
      const dir = join(dirOf(drillId), 'redis');
      await stopPidFile(join(dir, 'redis.pid'));
      await rm(dir, { recursive: true, force: true });
      const owner = await scratchOwner(settings().runAs);
      await makeOwnedDir(dirOf(drillId), owner);
      await makeOwnedDir(dir, owner);
      await withStoredObject(deps, manifest, new ByteMeter(true), async (body) => {
        const file = createWriteStream(join(dir, 'dump.rdb'));
        const done = new Promise<void>((resolve, reject) => file.once('finish', resolve).once('error', reject));
        await decompressInto(body, manifest.compression, file, done, (err) => err);
      });
      await chownTree(dir, owner);
      const port = await freePort();
      await runAs(owner, 'redis-server', [
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no',
        '--daemonize', 'yes', '--pidfile', join(dir, 'redis.pid'), '--logfile', join(dir, 'redis.log'),
      ]);
      const keys = await countRedisKeys(port);
      return { keys, port };
    },

    /** Stops whatever a drill started and removes its directory. Safe to run any number of times. */
    async dropScratch({ drillId }: { drillId: string }): Promise<{ removed: boolean }> {
      assertLocalHost(deps, drillHost());
      const dir = dirOf(drillId);
      const existed = Boolean(await stat(dir).catch(() => undefined));
      await stopPidFile(join(dir, 'redis', 'redis.pid'));
      await stopScratchPostgres(deps, join(dir, 'pg'));
      await rm(dir, { recursive: true, force: true });
      return { removed: existed };
    },
  };
}

/** The database a dump manifest is of: the last part of its source, `postgres://pg1/<database>`. */
export function databaseOf(manifest: BackupManifest): string {
  return manifest.source.split('/').pop()!;
}

/** The PostgreSQL version that made a backup: recorded by dumps, read from the tool's version for base backups. */
function serverVersionOf(manifest: BackupManifest): string {
  const recorded = manifest.details.serverVersion;
  if (typeof recorded === 'string') return recorded;
  const tool = Object.values(manifest.tools).find((v) => v.includes('(PostgreSQL)'));
  return /\(PostgreSQL\) (\d+(\.\d+)?)/.exec(tool ?? '')?.[1] ?? '15';
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

function binDirectory(deps: ActivityDeps, serverVersion: string): string {
  const major = /^(\d+)/.exec(serverVersion)?.[1] ?? '15';
  return deps.inventory.restore.postgresBinDirectory.replace('{major}', major);
}

interface Owner {
  uid: number;
  gid: number;
}

/** The user scratch servers run as: `restore.runAs` when the worker is root, else the worker itself. */
async function scratchOwner(user: string): Promise<Owner | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const id = async (flag: string) => Number((await promisify(execFile)('id', [flag, user])).stdout.trim());
  return { uid: await id('-u'), gid: await id('-g') };
}

/** `dir` private to `owner`; its parents are created traversable, so the owner can reach it. */
async function makeOwnedDir(dir: string, owner: Owner | undefined): Promise<void> {
  await mkdir(dirname(dir), { recursive: true, mode: 0o755 });
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (owner) await chown(dir, owner.uid, owner.gid);
}

async function writeOwnedFile(file: string, text: string, owner: Owner | undefined): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  if (owner) await chown(file, owner.uid, owner.gid);
}

async function chownTree(dir: string, owner: Owner | undefined): Promise<void> {
  if (owner) await promisify(execFile)('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
}

async function runAs(owner: Owner | undefined, command: string, args: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], ...(owner ?? {}) });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.once('error', (err) => reject(new Error(`cannot run ${command}: ${err.message}`)));
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited with ${code}: ${stderr.trim()}`))));
  });
}

async function startCluster(owner: Owner | undefined, bin: string, pgDir: string, dir: string, port: number, extra: string[]): Promise<void> {
  const options = ['-p', String(port), '-k', dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'synchronous_commit=off', '-c', 'autovacuum=off', '-c', `cluster_name=scratch`, ...extra];
  try {
    await runAs(owner, join(bin, 'pg_ctl'), ['start', '-D', pgDir, '-w', '-t', '300', '-l', join(dir, 'pg.log'), '-o', options.join(' ')]);
  } catch (err) {
    // pg_ctl only says "examine the log": the server's own last words are the useful part.
    const log = await readFile(join(dir, 'pg.log'), 'utf8').catch(() => '');
    throw new Error(`${(err as Error).message}\nserver log (last lines):\n${log.trim().split('\n').slice(-8).join('\n')}`);
  }
}

/** Stops a scratch cluster with the pg_ctl of its own version (PG_VERSION), if it runs. */
async function stopScratchPostgres(deps: ActivityDeps, pgDir: string): Promise<void> {
  if (!(await stat(join(pgDir, 'postmaster.pid')).catch(() => undefined))) return;
  const major = (await readFile(join(pgDir, 'PG_VERSION'), 'utf8').catch(() => '15')).trim();
  const owner = await scratchOwner(deps.inventory.restore.runAs);
  await runAs(owner, join(binDirectory(deps, major), 'pg_ctl'), ['stop', '-D', pgDir, '-m', 'immediate', '-w']).catch(() => undefined);
}

async function stopPidFile(pidFile: string): Promise<void> {
  const pid = Number(await readFile(pidFile, 'utf8').catch(() => ''));
  if (!pid) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Downloads archived WAL from `fromSegment` on (and all timeline histories), each checked and decompressed. */
async function fetchWal(deps: ActivityDeps, fromSegment: string, archive: string): Promise<number> {
  const s3 = createS3Client(deps);
  const { bucket } = storageSettings(deps);
  const prefix = walKeyPrefix(deps.inventory);
  const method = deps.inventory.backup.compression.method;
  let segments = 0;
  try {
    const keys = (await listKeys(s3, bucket, prefix)).filter((key) => {
      const name = key.slice(prefix.length).split('.')[0];
      return /^[0-9A-F]{8}$/.test(name) || (/^[0-9A-F]{24}$/.test(name) && name >= fromSegment);
    });
    for (const key of keys) {
      const name = key.slice(prefix.length).replace(/\.(zst|gz)$/, '');
      const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const meter = new ByteMeter(true);
      const file = createWriteStream(join(archive, name));
      const written = new Promise<void>((resolve, reject) => file.once('finish', resolve).once('error', reject));
      await decompressInto((response.Body as Readable).pipe(meter), method, file, written, (err) => err);
      const recorded = response.Metadata?.[walChecksumMetadata];
      if (recorded && recorded !== meter.digest()) {
        throw ApplicationFailure.nonRetryable(`${key}: sha256 ${meter.digest()} does not match the recorded ${recorded}`, ErrorType.ChecksumMismatch);
      }
      segments += name.length === 24 ? 1 : 0;
      Context.current().heartbeat({ walSegmentsFetched: segments });
    }
    return segments;
  } finally {
    s3.destroy();
  }
}

/** Waits until the recovered copy has replayed to its target and accepts writes (promoted). */
async function waitForPromotion(
  deps: ActivityDeps,
  dir: string,
  connect: (drillId: string, database?: string) => Promise<Client>,
  drillId: string,
  targetTime: string,
): Promise<void> {
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline) {
    const log = await readFile(join(dir, 'pg.log'), 'utf8').catch(() => '');
    if (/recovery ended before configured recovery target was reached/.test(log)) {
      throw ApplicationFailure.nonRetryable(`the archived WAL ends before ${targetTime}: point-in-time recovery to it is impossible`, ErrorType.TargetOutsideWal);
    }
    const db = await connect(drillId).catch(() => undefined);
    if (db) {
      const inRecovery = await db.query<{ r: boolean }>('SELECT pg_is_in_recovery() AS r').then((r) => r.rows[0].r, () => true);
      await db.end();
      if (!inRecovery) return;
    }
    Context.current().heartbeat({ phase: 'replaying WAL' });
    await Context.current().sleep(500);
  }
  throw new Error(`the scratch copy of ${drillId} did not finish recovery within 10 minutes`);
}

/** Keys loaded into a scratch Redis, once it has finished loading its RDB. */
async function countRedisKeys(port: number): Promise<number> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 3, retryStrategy: (n) => (n > 50 ? null : 200) });
  try {
    await redis.connect();
    for (let i = 0; i < 600; i++) {
      const info = await redis.info();
      if (/^loading:0/m.test(info)) {
        return [...info.matchAll(/^db\d+:keys=(\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`scratch Redis on port ${port} is still loading its RDB after 60 s`);
  } finally {
    redis.disconnect();
  }
}
