/**
 * Full PostgreSQL backup, side by side on the same database in one run (issue: backups):
 *   (a) the guide's method: `pg_dump | gzip > file`, then upload the file;
 *   (b) tego-ops: postgresBackupWorkflow end to end, through Temporal, manifest included;
 *   (c) the ceiling: `pg_dump -Fc -Z0 > /dev/null`;
 *   (d) for reference, `pg_dump -Fc -Z0 | zstd -3 -T2 > /dev/null`: what compression alone costs here.
 * Run: npx tsx bench/backup-postgres.ts [--rows 7000000] [--small-rows 1500000]
 * Prints times, ratios, sizes and the worker's peak RSS at two database sizes.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Upload } from '@aws-sdk/lib-storage';
import { Command } from 'commander';
import { databaseSize, ensureBulkDatabase } from '../test/harness/postgres-data';
import { startSandbox, stopSandbox, type SandboxState } from '../test/harness/sandbox';
import { SecretEnv } from '../test/harness/sandbox-inventory';
import { sandboxBucket } from '../test/harness/services/minio';
import { sandboxS3 } from '../test/harness/storage';
import { sandboxClient, uniqueId } from '../test/harness/temporal-client';
import { startWorkerProcess } from '../test/harness/worker-process';
import type { BackupReport } from '../workflows/postgres-backup';
import { peakRssMiB, ratio, timed } from './measure';

const options = new Command()
  .option('--rows <n>', 'rows in the large database (~190 B each on disk)', '7000000')
  .option('--small-rows <n>', 'rows in the small database, to show memory stays flat', '1500000')
  .option('--keep', 'leave the sandbox running afterwards', false)
  .parse()
  .opts<{ rows: string; smallRows: string; keep: boolean }>();

// Below 32768: ports above are the kernel's ephemeral range, where an outgoing connection may take one first.
const bench = { stateDir: '/tmp/tego-bench', portBase: 24000, containerNamePrefix: 'bench-' };

function pgArgs(sandbox: SandboxState, database: string): string[] {
  return ['-h', '127.0.0.1', '-p', String(sandbox.portBase + 10), '-U', 'postgres', '-d', database];
}

function sh(command: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-o', 'pipefail', '-c', command], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command} exited ${code}`))));
  });
}

async function main(): Promise<void> {
  console.log('[bench] starting a sandbox on ports 24000+ ...');
  const { state: sandbox } = await startSandbox(bench);
  const env = { ...process.env, PGPASSWORD: sandbox.env[SecretEnv.postgresPassword] };
  const s3 = sandboxS3(sandbox);
  const client = await sandboxClient(sandbox);
  // Prebundled, as the Docker image does it: the worker's memory is then the backup's, not webpack's.
  const bundlePath = join(sandbox.stateDir, 'workflow-bundle.js');
  execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, '../workers/bundle.ts'), bundlePath]);
  const worker = await startWorkerProcess(sandbox, { args: ['--all-hosts'], bundlePath });
  const results = [];
  try {
    for (const [database, rows] of [['bench_small', Number(options.smallRows)], ['bench_large', Number(options.rows)]] as const) {
      console.log(`[bench] generating ${database} (${rows} rows) ...`);
      await ensureBulkDatabase(sandbox, database, rows);
      const size = await databaseSize(sandbox, database);
      const file = join(sandbox.stateDir, `${database}.sql.gz`);

      const guide = await timed(async () => {
        await sh(`pg_dump ${pgArgs(sandbox, database).join(' ')} | gzip > ${file}`, env);
        await new Upload({
          client: s3,
          params: { Bucket: sandboxBucket, Key: `guide/${database}.sql.gz`, Body: createReadStream(file) },
        }).done();
      });
      const guideBytes = (await stat(file)).size;
      await rm(file);

      const ours = await timed(() =>
        client.workflow.execute<(input: unknown) => Promise<BackupReport>>('postgresBackupWorkflow', {
          taskQueue: 'ops',
          workflowId: uniqueId('bench-backup'),
          args: [{ databases: [database] }],
        }),
      );
      const ceiling = await timed(() => sh(`pg_dump -Fc -Z0 ${pgArgs(sandbox, database).join(' ')} > /dev/null`, env));
      // The inventory's default compression (zstd -3 -T2), without hashing or uploading.
      const compressed = await timed(() => sh(`pg_dump -Fc -Z0 ${pgArgs(sandbox, database).join(' ')} | zstd -3 -T2 -q -c > /dev/null`, env));
      results.push({
        database,
        sizeGiB: size / 2 ** 30,
        guide: guide.seconds,
        guideCpu: guide.cpuSeconds,
        guideMiB: guideBytes / 2 ** 20,
        ours: ours.seconds,
        oursCpu: ours.cpuSeconds,
        oursMiB: ours.result.backups[0].size / 2 ** 20,
        ceiling: ceiling.seconds,
        ceilingCpu: ceiling.cpuSeconds,
        dumpAndCompress: compressed.seconds,
        dumpAndCompressCpu: compressed.cpuSeconds,
        workerPeakRssMiB: await peakRssMiB(worker.child.pid!),
      });
    }
  } finally {
    await worker.stop();
    await client.connection.close();
    s3.destroy();
    if (!options.keep) await stopSandbox(bench);
  }

  const cores = Number(execFileSync('nproc').toString().trim());
  console.log(`\nFull backup of the same database, one run (${cores} cores; CPU = machine-wide busy CPU seconds):\n`);
  for (const r of results) {
    console.log(`${r.database}: ${r.sizeGiB.toFixed(2)} GiB on disk`);
    console.log(`  (a) guide  pg_dump | gzip > file; upload   ${r.guide.toFixed(1)} s   CPU ${r.guideCpu.toFixed(1)} s   ${r.guideMiB.toFixed(0)} MiB`);
    console.log(`  (b) tego-ops postgresBackupWorkflow          ${r.ours.toFixed(1)} s   CPU ${r.oursCpu.toFixed(1)} s   ${r.oursMiB.toFixed(0)} MiB`);
    console.log(`  (c) ceiling pg_dump -Fc -Z0 > /dev/null      ${r.ceiling.toFixed(1)} s   CPU ${r.ceilingCpu.toFixed(1)} s`);
    console.log(`  (d) pg_dump -Fc -Z0 | zstd -3 -T2 > /dev/null ${r.dumpAndCompress.toFixed(1)} s   CPU ${r.dumpAndCompressCpu.toFixed(1)} s   (compression alone, no upload)`);
    console.log(`  floor for (b) on ${cores} cores: its CPU / cores = ${(r.oursCpu / cores).toFixed(1)} s, i.e. at best ${(r.ceiling / (r.oursCpu / cores)).toFixed(2)} of the ceiling's speed; (d) alone: ${(r.ceiling / (r.dumpAndCompressCpu / cores)).toFixed(2)}`);
    console.log(`  speed-up (b) vs (a): ${ratio(r.guide, r.ours)}   (b) vs ceiling (c): ${(r.ceiling / r.ours).toFixed(2)} of the dump's speed`);
    console.log(`  (b) vs (d): ${(r.dumpAndCompress / r.ours).toFixed(2)} of dump+compress speed, the rest is hashing and uploading`);
    console.log(`  size (b)/(a): ${(r.oursMiB / r.guideMiB).toFixed(2)}   worker peak RSS so far: ${r.workerPeakRssMiB} MiB`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
