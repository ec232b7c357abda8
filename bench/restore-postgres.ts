/**
 * Restore of a PostgreSQL dump, side by side on the same backup in one run (issue: restore drills):
 *   (a) the raw method a user would run: initdb a scratch cluster and createdb, download the object to a
 *       file (GetObject, as `aws s3 cp` does), `zstd -d` it, `pg_restore` it — no verification;
 *   (b) tego-ops: restoreDrillWorkflow end to end, through Temporal: download → hash → zstd -d → pg_restore
 *       streamed into a scratch cluster, then every table's row count and the SQL assertions, then teardown.
 * (b) runs first, then (a): (a) then reads an object the first read left in the page cache, which can only
 * flatter it. Both clusters get the same settings (fsync=off etc., as activities/scratch-instances.ts).
 * Run: npx tsx bench/restore-postgres.ts [--rows 3000000] [--keep]
 * Prints times, the ratio (a)/(b), RTO per GiB, sizes, CPU seconds and the drill worker's peak RSS.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Command } from 'commander';
import { databaseSize, ensureBulkDatabase } from '../test/harness/postgres-data';
import { startSandbox, stopSandbox, type SandboxState } from '../test/harness/sandbox';
import { downloadToFile, sandboxS3 } from '../test/harness/storage';
import { sandboxClient, uniqueId } from '../test/harness/temporal-client';
import { startWorkerProcess } from '../test/harness/worker-process';
import type { DrillReport } from '../workflows/drill-report';
import type { BackupReport } from '../workflows/postgres-backup';
import { peakRssMiB, timed } from './measure';

const options = new Command()
  .option('--rows <n>', 'rows in the database (~190 B each on disk; 3000000 ≈ 0.6 GiB)', '3000000')
  .option('--keep', 'leave the sandbox running afterwards', false)
  .parse()
  .opts<{ rows: string; keep: boolean }>();

// Below 32768: ports above are the kernel's ephemeral range, where an outgoing connection may take one first.
const bench = { stateDir: '/tmp/tego-bench-restore', portBase: 27000, containerNamePrefix: 'benchr-' };
const database = 'bench_restore';
// The raw method's cluster: a port of the sandbox's range that its layout leaves unused.
const rawPort = bench.portBase + 90;
const postgresBin = '/usr/lib/postgresql/15/bin';
// The drill's scratch cluster settings (startCluster in activities/scratch-instances.ts), for a fair race.
const scratchSettings = ['fsync=off', 'full_page_writes=off', 'synchronous_commit=off', 'autovacuum=off', 'cluster_name=scratch'];

interface Owner {
  uid: number;
  gid: number;
}

/** PostgreSQL refuses to run as root: initdb and pg_ctl run as the `postgres` OS user, as the drill's do. */
function postgresUser(): Owner {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres']).toString().trim());
  return { uid: id('-u'), gid: id('-g') };
}

function run(command: string, args: string[], opts: { env?: NodeJS.ProcessEnv; owner?: Owner; cwd?: string } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'ignore', 'inherit'], ...opts.owner });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} exited ${code}`))));
  });
}

/** Wall seconds of each step of the raw method. */
interface RawSteps {
  cluster: number;
  download: number;
  decompress: number;
  restore: number;
}

/** The raw method, as a user would type it; `dir` is emptied first and left behind for `dropRawCluster`. */
async function rawRestore(sandbox: SandboxState, key: string, dir: string, owner: Owner): Promise<RawSteps> {
  const steps: RawSteps = { cluster: 0, download: 0, decompress: 0, restore: 0 };
  const step = async (name: keyof RawSteps, work: () => Promise<void>) => {
    const started = process.hrtime.bigint();
    await work();
    steps[name] = Number(process.hrtime.bigint() - started) / 1e9;
  };
  const pgDir = join(dir, 'pg');
  const password = randomBytes(24).toString('base64url');
  const env = { ...process.env, PGPASSWORD: password };
  const pgArgs = ['-h', '127.0.0.1', '-p', String(rawPort), '-U', 'postgres'];
  const s3 = sandboxS3(sandbox);
  try {
    await step('cluster', async () => {
      await writeFile(join(dir, 'pw'), `${password}\n`, { mode: 0o600 });
      await chown(join(dir, 'pw'), owner.uid, owner.gid);
      await run(join(postgresBin, 'initdb'), ['-D', pgDir, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${join(dir, 'pw')}`, '-E', 'UTF8', '--no-sync'], { owner, cwd: dir });
      const serverOptions = ['-p', String(rawPort), '-k', dir, '-c', 'listen_addresses=127.0.0.1', ...scratchSettings.flatMap((s) => ['-c', s])];
      await run(join(postgresBin, 'pg_ctl'), ['start', '-D', pgDir, '-w', '-t', '300', '-l', join(dir, 'pg.log'), '-o', serverOptions.join(' ')], { owner, cwd: dir });
      await run('createdb', [...pgArgs, database], { env });
    });
    const compressed = join(dir, `${database}.dump.zst`);
    const dump = join(dir, `${database}.dump`);
    await step('download', () => downloadToFile(s3, key, compressed));
    await step('decompress', () => run('zstd', ['-d', '-q', '-f', '-o', dump, compressed]));
    // The drill's pg_restore flags, so both do the same work.
    await step('restore', () => run('pg_restore', [...pgArgs, '-d', database, '--no-owner', '--no-privileges', '--exit-on-error', dump], { env }));
  } finally {
    s3.destroy();
  }
  return steps;
}

async function dropRawCluster(dir: string, owner: Owner): Promise<void> {
  if (await stat(join(dir, 'pg', 'postmaster.pid')).catch(() => undefined)) {
    await run(join(postgresBin, 'pg_ctl'), ['stop', '-D', join(dir, 'pg'), '-m', 'immediate', '-w'], { owner, cwd: dir }).catch(() => undefined);
  }
  await rm(dir, { recursive: true, force: true });
}

async function main(): Promise<void> {
  const rows = Number(options.rows);
  console.log(`[bench] starting a sandbox on ports ${bench.portBase}+ ...`);
  const { state: sandbox } = await startSandbox(bench);
  const client = await sandboxClient(sandbox);
  const owner = postgresUser();
  const rawDir = join(sandbox.stateDir, 'raw-restore');
  // Prebundled, as the Docker image does it: the worker's memory is then the restore's, not webpack's.
  const bundlePath = join(sandbox.stateDir, 'workflow-bundle.js');
  execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, '../workers/bundle.ts'), bundlePath]);
  let worker = await startWorkerProcess(sandbox, { args: ['--all-hosts'], bundlePath });
  try {
    console.log(`[bench] generating ${database} (${rows} rows) ...`);
    await ensureBulkDatabase(sandbox, database, rows);
    const size = await databaseSize(sandbox, database);

    console.log('[bench] backing it up with postgresBackupWorkflow ...');
    const backup = await client.workflow.execute<(input: unknown) => Promise<BackupReport>>('postgresBackupWorkflow', {
      taskQueue: 'ops',
      workflowId: uniqueId('bench-backup'),
      args: [{ databases: [database] }],
    });
    const stored = backup.backups[0];
    // A fresh worker for the drill, so its peak RSS is the drill's and not the backup's.
    await worker.stop();
    worker = await startWorkerProcess(sandbox, { args: ['--all-hosts'], bundlePath });

    console.log(`[bench] (b) restoreDrillWorkflow of ${stored.id} ...`);
    const ours = await timed(() =>
      client.workflow.execute<(input: unknown) => Promise<DrillReport>>('restoreDrillWorkflow', {
        taskQueue: 'ops',
        workflowId: uniqueId('bench-drill'),
        args: [{ backupId: stored.id, redis: false }],
      }),
    );
    const workerPeakRssMiB = await peakRssMiB(worker.child.pid!);
    const drilled = ours.result.postgres[0];

    console.log(`[bench] (a) raw: initdb + createdb, GetObject > file, zstd -d, pg_restore of ${stored.key} ...`);
    await dropRawCluster(rawDir, owner);
    await mkdir(rawDir, { recursive: true, mode: 0o700 });
    await chown(rawDir, owner.uid, owner.gid);
    const raw = await timed(() => rawRestore(sandbox, stored.key, rawDir, owner)).finally(() => dropRawCluster(rawDir, owner));

    const cores = Number(execFileSync('nproc').toString().trim());
    const sizeGiB = size / 2 ** 30;
    const steps = raw.result;
    const rawRestoreOnly = steps.download + steps.decompress + steps.restore;
    console.log(`\nRestore of the same backup, one run, (b) first then (a) (${cores} cores; CPU = machine-wide busy CPU seconds):\n`);
    console.log(`${database}: ${sizeGiB.toFixed(2)} GiB on disk, ${rows} rows; dump ${(stored.size / 2 ** 20).toFixed(0)} MiB zstd (${(stored.rawSize / 2 ** 20).toFixed(0)} MiB raw); backup ${stored.id}`);
    console.log(`  (b) tego-ops restoreDrillWorkflow, verified       ${ours.seconds.toFixed(1)} s   CPU ${ours.cpuSeconds.toFixed(1)} s   RTO ${ours.result.rtoSeconds} s, restore step ${drilled.restoreSeconds.toFixed(1)} s`);
    console.log(`      ${drilled.tables} tables, ${drilled.rowMismatches.length === 0 ? 'row counts exact' : drilled.rowMismatches.join('; ')}, ${drilled.assertions.length} assertions`);
    console.log(`  (a) raw  initdb; GetObject > file; zstd -d; pg_restore   ${raw.seconds.toFixed(1)} s   CPU ${raw.cpuSeconds.toFixed(1)} s   (no verification)`);
    console.log(`      initdb + start + createdb ${steps.cluster.toFixed(1)} s, download ${steps.download.toFixed(1)} s, zstd -d ${steps.decompress.toFixed(1)} s, pg_restore ${steps.restore.toFixed(1)} s`);
    console.log(`  (a)/(b): ${(raw.seconds / ours.seconds).toFixed(2)} of the raw speed, verification and teardown included (goal ≥ 0.90)`);
    console.log(`  restore alone: (a) download + zstd -d + pg_restore ${rawRestoreOnly.toFixed(1)} s / (b) restore step ${drilled.restoreSeconds.toFixed(1)} s = ${(rawRestoreOnly / drilled.restoreSeconds).toFixed(2)} of the raw speed`);
    console.log(`  floor for (b) on ${cores} cores: its CPU / cores = ${(ours.cpuSeconds / cores).toFixed(1)} s`);
    console.log(`  RTO per GiB: ${(ours.result.rtoSeconds! / sizeGiB).toFixed(1)} s/GiB   drill worker peak RSS: ${workerPeakRssMiB} MiB`);
  } finally {
    await worker.stop();
    await client.connection.close();
    if (!options.keep) await stopSandbox(bench);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
