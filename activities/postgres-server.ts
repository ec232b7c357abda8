import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, copyFile, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ApplicationFailure } from '@temporalio/activity';
import { ErrorType } from '../workflows/error-types';
import { assertLocalHost, type ActivityDeps } from './deps';
import { withProgressHeartbeat } from './heartbeat';
import { connectToNode, findPostgresNode, postgresSettings } from './postgres-connection';

/** Left in a fenced node's data directory, for the person who finds it. */
export const FenceMarker = 'tego-ops.fenced';

/** Files pg_rewind would overwrite with the source's copies: each node keeps its own. */
const ownConfigFiles = ['postgresql.conf', 'postgresql.auto.conf', 'pg_hba.conf', 'pg_ident.conf'];

/**
 * The server process and data directory of a PostgreSQL node, on the node's own host: stop, start, fence,
 * rejoin as a replica. Tools run as the data directory's owner (PostgreSQL refuses to run as root) with
 * the binaries of the directory's major version.
 */
export function createPostgresServerActivities(deps: ActivityDeps) {
  const local = (nodeName: string) => {
    const node = findPostgresNode(deps.inventory, nodeName);
    assertLocalHost(deps, node.host);
    if (!node.dataDirectory) {
      throw ApplicationFailure.nonRetryable(
        `node ${node.name} has no dataDirectory: tego-ops stops, fences and rejoins only servers run from a data directory on their host`,
        ErrorType.UnknownTarget,
      );
    }
    return { node, dataDirectory: node.dataDirectory };
  };

  return {
    /**
     * Stops a node's server: `fast` ends sessions and writes a shutdown checkpoint (a clean stop the
     * replicas receive), `immediate` just ends it. A server that is not running is left as it is.
     */
    async stopServer({ node: nodeName, mode }: { node: string; mode: 'fast' | 'immediate' }): Promise<{ wasRunning: boolean }> {
      const { dataDirectory } = local(nodeName);
      const wasRunning = await serverRuns(deps, dataDirectory);
      if (wasRunning) await pgCtl(deps, dataDirectory, ['stop', '-m', mode, '-w', '-t', '120']);
      return { wasRunning };
    },

    /** Starts a node's server and waits until it accepts connections. A running one is left as it is. */
    async startServer({ node: nodeName }: { node: string }): Promise<{ wasRunning: boolean }> {
      const { dataDirectory } = local(nodeName);
      if (existsSync(join(dataDirectory, FenceMarker))) {
        throw ApplicationFailure.nonRetryable(`node ${nodeName} is fenced (${join(dataDirectory, FenceMarker)}); rejoin it as a replica instead`, ErrorType.PreconditionFailed);
      }
      const wasRunning = await serverRuns(deps, dataDirectory);
      if (!wasRunning) await startServerProcess(deps, dataDirectory);
      return { wasRunning };
    },

    /**
     * Fences a failed primary: its server is stopped (immediately) if it runs, and `standby.signal` is put
     * in its data directory, so if anyone starts it again it comes up in recovery, read-only, and cannot
     * take writes beside the new primary. A marker file says why.
     */
    async fenceServer({ node: nodeName, newPrimary, reason }: { node: string; newPrimary: string; reason: string }): Promise<{ wasRunning: boolean }> {
      const { dataDirectory } = local(nodeName);
      const wasRunning = await serverRuns(deps, dataDirectory);
      if (wasRunning) await pgCtl(deps, dataDirectory, ['stop', '-m', 'immediate', '-w', '-t', '60']);
      const owner = await ownerOf(dataDirectory);
      await writeOwned(join(dataDirectory, 'standby.signal'), '', owner);
      await writeOwned(
        join(dataDirectory, FenceMarker),
        `fenced by tego-ops at ${new Date().toISOString()}: ${reason}\nthe primary is now ${newPrimary}; rejoin this node as its replica (tego-ops start db-rejoin --node ${nodeName}).\n`,
        owner,
      );
      return { wasRunning };
    },

    /**
     * The end of the WAL a stopped (or crashed) server had written to disk, read with pg_waldump from its
     * last checkpoint: every commit it acknowledged lies before it. A failover compares it with what the
     * replica received to know the data it would lose.
     */
    async walEndOfStoppedServer({ node: nodeName }: { node: string }): Promise<{ walEnd: string; timeline: number }> {
      const { dataDirectory } = local(nodeName);
      const control = await runAsOwner(deps, dataDirectory, 'pg_controldata', ['-D', dataDirectory]);
      const field = (label: string) => new RegExp(`^${label}:\\s*(\\S+)`, 'm').exec(control.stdout)?.[1];
      const redo = field("Latest checkpoint's REDO location");
      const timeline = Number(field("Latest checkpoint's TimeLineID"));
      if (!redo || !timeline) throw new Error(`pg_controldata of ${nodeName} did not name the latest checkpoint`);
      // pg_waldump reads on until the first invalid record; the place it stops is the end of the WAL.
      const dump = await runAsOwner(deps, dataDirectory, 'pg_waldump', ['--quiet', '-p', join(dataDirectory, 'pg_wal'), '-t', String(timeline), '-s', redo], { allowFailure: true });
      const walEnd = walEndFromWaldumpError(dump.stderr);
      if (!walEnd) throw new Error(`could not find the end of ${nodeName}'s WAL: ${dump.stderr.trim().slice(0, 300) || 'pg_waldump said nothing'}`);
      return { walEnd, timeline };
    },

    /**
     * Brings a node back as a streaming replica of `primary`: stops it if it runs, `pg_rewind`s it onto
     * the primary's timeline (only when it diverged; its own configuration files are kept), points
     * `primary_conninfo` at the primary, puts `standby.signal`, removes the fence, and starts it.
     */
    async rejoinAsReplica({ node: nodeName, primary }: { node: string; primary: string }): Promise<RejoinResult> {
      const { node, dataDirectory } = local(nodeName);
      const source = findPostgresNode(deps.inventory, primary);
      const pg = postgresSettings(deps.inventory);
      const password = deps.secret(pg.passwordEnv, 'postgres.passwordEnv');
      const env = { PGPASSWORD: password };
      const step = { now: 'stopping the server' };
      return withProgressHeartbeat(() => step, async () => {
        if (await serverRuns(deps, dataDirectory)) await pgCtl(deps, dataDirectory, ['stop', '-m', 'fast', '-w', '-t', '120']);
        const owner = await ownerOf(dataDirectory);
        // pg_rewind recovers a crashed target in single-user mode first, which refuses to run as a standby.
        await rm(join(dataDirectory, 'standby.signal'), { force: true });
        // A copy left by an attempt that failed is the node's own (pg_rewind may have overwritten the live one since).
        const saved = join(dirname(dataDirectory), `.${node.name}.tego-ops-config`);
        for (const file of ownConfigFiles) {
          if (existsSync(join(dataDirectory, file)) && !existsSync(`${saved}.${file}`)) await copyFile(join(dataDirectory, file), `${saved}.${file}`);
        }
        const sourceServer = conninfo({ host: source.address, port: String(source.port), user: pg.user, dbname: 'postgres' });
        // A just-promoted primary's control file names its new timeline only after a checkpoint; before
        // it, pg_rewind would see one timeline and wrongly report that no rewind is needed.
        step.now = 'checkpoint on the primary';
        const primaryDb = await connectToNode(deps, source, { database: 'postgres', timeoutMs: 120_000 });
        try {
          await primaryDb.query('CHECKPOINT');
        } finally {
          await primaryDb.end();
        }
        step.now = 'pg_rewind';
        const rewind = await runAsOwner(deps, dataDirectory, 'pg_rewind', ['-D', dataDirectory, `--source-server=${sourceServer}`], { env, allowFailure: true });
        let method: RejoinResult['method'] = /no rewind required/.test(rewind.stdout + rewind.stderr) ? 'none' : 'pg_rewind';
        let rewindProblem: string | undefined;
        if (rewind.code !== 0) {
          // What Patroni does when a rewind is impossible: copy the primary afresh.
          rewindProblem = (rewind.stderr || rewind.stdout).trim().split('\n').slice(-1)[0];
          step.now = 'pg_basebackup (pg_rewind could not)';
          await cloneFromPrimary(deps, dataDirectory, owner, ['-h', source.address, '-p', String(source.port), '-U', pg.user], env);
          method = 'pg_basebackup';
        }
        for (const file of ownConfigFiles) {
          if (existsSync(`${saved}.${file}`)) {
            await copyFile(`${saved}.${file}`, join(dataDirectory, file));
            await chown(join(dataDirectory, file), owner.uid, owner.gid);
            await rm(`${saved}.${file}`);
          }
        }
        await setReplicaSettings(join(dataDirectory, 'postgresql.auto.conf'), conninfo({ host: source.address, port: String(source.port), user: pg.user, password, application_name: node.name }), owner);
        await writeOwned(join(dataDirectory, 'standby.signal'), '', owner);
        await rm(join(dataDirectory, FenceMarker), { force: true });
        step.now = 'starting as a replica';
        await startServerProcess(deps, dataDirectory);
        // The WAL archive's slot, kept from the node's time as primary, would hold WAL on it for ever.
        const replicaDb = await connectToNode(deps, node, { database: 'postgres', timeoutMs: 30_000 });
        try {
          await replicaDb.query('SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active', [deps.inventory.backup.walArchive.slot]);
        } finally {
          await replicaDb.end();
        }
        return { method, ...(rewindProblem ? { rewindProblem } : {}) };
      });
    },
  };
}

/**
 * Where the valid WAL ends, from the error pg_waldump stops with: the position of the first record it
 * could not read ("invalid record length at 0/3000180: ...", "... incorrect prev-link 0/1 at 0/3000180"),
 * or the start of the page it found invalid ("invalid magic number 0000 in log segment S, offset N").
 */
export function walEndFromWaldumpError(stderr: string): string | undefined {
  const message = /error in WAL record at [0-9A-F]+\/[0-9A-F]+: (.*)/.exec(stderr)?.[1] ?? stderr;
  const positions = [...message.matchAll(/ at ([0-9A-F]+\/[0-9A-F]+)/g)].map((m) => m[1]);
  if (positions.length > 0) return positions[positions.length - 1];
  const page = /in (?:WAL|log) segment ([0-9A-F]{24}), (?:LSN [0-9A-F]+\/[0-9A-F]+, )?offset (\d+)/.exec(message);
  if (!page) return undefined;
  const segmentSize = 16n * 1024n * 1024n; // the default; the segment name's numbering assumes it
  const logId = BigInt(`0x${page[1].slice(8, 16)}`);
  const segment = BigInt(`0x${page[1].slice(16, 24)}`);
  const lsn = (logId << 32n) + segment * segmentSize + BigInt(page[2]);
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`;
}

export interface RejoinResult {
  /** none: it had not diverged; pg_rewind: rewound onto the primary's timeline; pg_basebackup: copied afresh. */
  method: 'none' | 'pg_rewind' | 'pg_basebackup';
  /** Why pg_rewind could not, when the node was copied afresh. */
  rewindProblem?: string;
}

/**
 * Replaces a data directory with a fresh copy of the primary (pg_basebackup into a sibling directory,
 * then swapped in), for a node pg_rewind cannot bring back. The old directory is removed only after the
 * copy is complete.
 */
async function cloneFromPrimary(deps: ActivityDeps, dataDirectory: string, owner: Owner, connection: string[], env: Record<string, string>): Promise<void> {
  const fresh = `${dataDirectory}.tego-ops-clone`;
  const old = `${dataDirectory}.tego-ops-old`;
  await rm(fresh, { recursive: true, force: true });
  await mkdir(fresh, { mode: 0o700 });
  await chown(fresh, owner.uid, owner.gid);
  const major = (await readFile(join(dataDirectory, 'PG_VERSION'), 'utf8')).trim();
  await runAsOwner(deps, dataDirectory, 'pg_basebackup', [...connection, '-D', fresh, '-X', 'stream', '--checkpoint=fast', '--no-password'], { env, major });
  await rm(old, { recursive: true, force: true });
  await rename(dataDirectory, old);
  await rename(fresh, dataDirectory);
  await rm(old, { recursive: true, force: true });
}

/** A libpq connection string; values quoted so passwords with spaces or quotes survive. */
function conninfo(fields: Record<string, string>): string {
  return Object.entries(fields)
    .map(([key, value]) => `${key}='${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`)
    .join(' ');
}

/**
 * Sets primary_conninfo, and drops a read-only default left by a fence, in postgresql.auto.conf. The
 * server is stopped: it must find them at start, since a standby that cannot reach its primary never
 * becomes consistent enough to accept the connection ALTER SYSTEM would need.
 */
async function setReplicaSettings(autoConf: string, primaryConninfo: string, owner: Owner): Promise<void> {
  const kept = (await readFile(autoConf, 'utf8').catch(() => ''))
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s*(primary_conninfo|default_transaction_read_only)\s*=/.test(line));
  await writeOwned(autoConf, [...kept, `primary_conninfo = '${primaryConninfo.replace(/'/g, "''")}'`, ''].join('\n'), owner);
}

interface Owner {
  uid: number;
  gid: number;
}

async function ownerOf(dataDirectory: string): Promise<Owner> {
  const { uid, gid } = await stat(dataDirectory);
  return { uid, gid };
}

async function writeOwned(file: string, text: string, owner: Owner): Promise<void> {
  await writeFile(file, text, { mode: 0o600 });
  if (process.getuid?.() === 0) await chown(file, owner.uid, owner.gid);
}

async function serverRuns(deps: ActivityDeps, dataDirectory: string): Promise<boolean> {
  if (!existsSync(join(dataDirectory, 'postmaster.pid'))) return false;
  const status = await runAsOwner(deps, dataDirectory, 'pg_ctl', ['status', '-D', dataDirectory], { allowFailure: true });
  return status.code === 0;
}

async function startServerProcess(deps: ActivityDeps, dataDirectory: string): Promise<void> {
  const log = join(dataDirectory, 'server.log');
  try {
    await pgCtl(deps, dataDirectory, ['start', '-l', log, '-w', '-t', '120']);
  } catch (err) {
    const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n');
    throw new Error(`${(err as Error).message}\nserver log (last lines):\n${tail}`);
  }
}

async function pgCtl(deps: ActivityDeps, dataDirectory: string, args: string[]): Promise<void> {
  await runAsOwner(deps, dataDirectory, 'pg_ctl', [...args.slice(0, 1), '-D', dataDirectory, ...args.slice(1)]);
}

/**
 * Runs a PostgreSQL tool of the data directory's major version as the directory's owner.
 * @throws the tool's name, exit code and output unless `allowFailure`
 */
async function runAsOwner(
  deps: ActivityDeps,
  dataDirectory: string,
  tool: string,
  args: string[],
  options: { allowFailure?: boolean; env?: Record<string, string>; major?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const major = options.major ?? (await readFile(join(dataDirectory, 'PG_VERSION'), 'utf8')).trim();
  const bin = deps.inventory.restore.postgresBinDirectory.replace('{major}', major);
  const owner = process.getuid?.() === 0 ? await ownerOf(dataDirectory) : {};
  return new Promise((resolve, reject) => {
    // pg_ctl start leaves the server holding stdout/stderr open: only the exit code is waited for.
    // A minimal environment: a server started here must not inherit the worker's secrets.
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', ...options.env };
    const child = spawn(join(bin, tool), args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd: '/', ...owner });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout = (stdout + chunk.toString()).slice(-16_000)));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-16_000)));
    child.once('error', (err) => reject(new Error(`cannot run ${tool}: ${err.message}`)));
    child.once('exit', (code) => {
      if (code === 0 || options.allowFailure) resolve({ code: code ?? -1, stdout, stderr });
      else reject(new Error(`${tool} exited with ${code}: ${(stderr || stdout).trim().slice(-2000)}`));
    });
  });
}
