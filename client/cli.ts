import { Argument, Command, InvalidArgumentError } from 'commander';
import { defaultInventoryPath, InventoryError, loadInventory } from '../inventory/load';
import type { Inventory } from '../inventory/schema';
import type { BackupAllReport } from '../workflows/backup-all';
import type { RetentionReport } from '../workflows/backup-retention';
import type { BackupFreshness } from '../workflows/backup-status';
import type { VerifyReport } from '../workflows/backup-verify';
import { HealthComponent } from '../workflows/inputs';
import type { BackupReport } from '../workflows/postgres-backup';
import { formatBackups, formatFreshness, formatRetention, formatVerify } from './format-backups';
import { formatHealthReport } from './format-health';
import { formatTable } from './format-table';
import { registerAlertCommands } from './cli-alerts';
import { defaultRequester, ExitCode, registerRunCommands } from './cli-runs';
import { parseCodecServerTokens, startCodecServer } from './codec-server';
import { InvalidInputError, OpsClient } from './ops-client';
import { payloadCodecFromEnv, PayloadEncryptionError } from './payload-codec';
import { applySchedules, deleteSchedule, listSchedules, pauseSchedule, triggerSchedule, unpauseSchedule } from './schedules';


const program = new Command()
  .name('tego-ops')
  .description('Durable ops automation for the TeGo-AI platform, on Temporal')
  .option('-c, --config <file>', 'inventory file (ops.yaml)', defaultInventoryPath())
  .showHelpAfterError()
  // A bad flag or argument is bad input: exit 2 like any other, not commander's 1.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? ExitCode.ok : ExitCode.usage));

async function withClient<T>(work: (ops: OpsClient, inventory: Inventory) => Promise<T>): Promise<T> {
  const inventory = await loadInventory(program.opts<{ config: string }>().config);
  const ops = await OpsClient.connect(inventory);
  try {
    return await work(ops, inventory);
  } finally {
    await ops.close();
  }
}

/** Prints JSON for scripts, or the human format. */
function print<T>(json: boolean, value: T, human: (value: T) => string): void {
  console.log(json ? JSON.stringify(value, null, 2) : human(value));
}

program
  .command('health')
  .description('probe every component of the inventory (apps, nginx, PostgreSQL, Redis, bucket, containers)')
  .option('--components <list>', `comma-separated subset of: ${Object.values(HealthComponent).join(', ')}`, parseList)
  .option('--json', 'print the report as JSON', false)
  .action(async (opts: { components?: string[]; json: boolean }) => {
    const report = await withClient((ops) =>
      ops.checkHealth(opts.components ? { components: opts.components as (keyof typeof HealthComponent)[] } : {}),
    );
    console.log(opts.json ? JSON.stringify(report, null, 2) : formatHealthReport(report));
    process.exitCode = report.overall === 'healthy' ? ExitCode.ok : ExitCode.failed;
  });

program
  .command('backup')
  .description('take a backup now and wait for it: postgres (dumps), base (for point-in-time recovery), redis, config, or all')
  .addArgument(new Argument('<kind>', 'what to back up').choices(['postgres', 'base', 'redis', 'config', 'all']))
  .option('--database <names>', 'postgres: comma-separated databases (default: the inventory\'s)', parseList)
  .option('--json', 'print the report as JSON', false)
  .action(async (kind: 'postgres' | 'base' | 'redis' | 'config' | 'all', opts: { database?: string[]; json: boolean }) => {
    const report = await withClient((ops) => {
      if (kind === 'postgres') return ops.run<BackupReport>('backup-postgres', opts.database ? { databases: opts.database } : {});
      if (kind === 'base') return ops.run<BackupReport>('backup-base', {});
      if (kind === 'redis') return ops.run<BackupReport>('backup-redis', {});
      if (kind === 'config') return ops.run<BackupReport>('backup-config', {});
      return ops.run<BackupAllReport>('backup-all', {});
    });
    print(opts.json, report, (r) => formatBackups(r.backups));
  });

const backups = program.command('backups').description('inspect and maintain stored backups');
backups
  .command('status')
  .description('the newest complete backup of each kind and its age; exit 1 if any is missing or too old')
  .option('--json', 'print as JSON', false)
  .action(async (opts: { json: boolean }) => {
    const status = await withClient((ops) => ops.run<{ kinds: BackupFreshness[] }>('backup-status', {}));
    print(opts.json, status, (s) => formatFreshness(s.kinds));
    process.exitCode = status.kinds.some((k) => k.stale) ? ExitCode.failed : ExitCode.ok;
  });
backups
  .command('verify')
  .description('re-read stored backups and check them against their manifests')
  .option('--latest', 'only the newest backup of each kind', false)
  .option('--json', 'print as JSON', false)
  .action(async (opts: { latest: boolean; json: boolean }) => {
    const report = await withClient((ops) => ops.run<VerifyReport>('backup-verify', { latestOnly: opts.latest }));
    print(opts.json, report, formatVerify);
  });
backups
  .command('retention')
  .description('delete backups past their retention (never the newest, never below minCount)')
  .option('--dry-run', 'only list what would be deleted', false)
  .option('--json', 'print as JSON', false)
  .action(async (opts: { dryRun: boolean; json: boolean }) => {
    const report = await withClient((ops) => ops.run<RetentionReport>('backup-retention', { dryRun: opts.dryRun }, { requestedBy: defaultRequester() }));
    print(opts.json, report, formatRetention);
  });

const schedules = program.command('schedules').description('the schedules tego-ops keeps on the Temporal server');
schedules
  .command('apply')
  .description('create or update every schedule to its definition; safe to run again')
  .action(async () => {
    const results = await withClient((ops, inventory) => applySchedules(ops.temporal, inventory));
    console.log(formatTable(['SCHEDULE', 'ACTION'], results.map((r) => [r.id, r.action])));
  });
schedules
  .command('list')
  .description('the schedules with their next runs')
  .option('--json', 'print as JSON', false)
  .action(async (opts: { json: boolean }) => {
    const statuses = await withClient((ops, inventory) => listSchedules(ops.temporal, inventory));
    print(opts.json, statuses, (list) =>
      list.length === 0
        ? 'no schedules: run `tego-ops schedules apply`'
        : formatTable(
            ['SCHEDULE', 'WORKFLOW', 'STATE', 'NEXT RUN', 'LAST RUN'],
            list.map((s) => [s.id, s.workflowType, s.paused ? 'paused' : 'active', s.nextRuns[0] ?? '-', s.lastRun ?? '-']),
          ),
    );
  });

const scheduleActions: [string, string, (ops: OpsClient, id: string, note: string) => Promise<void>][] = [
  ['pause', 'pause a schedule (runs stop until unpaused)', (ops, id, note) => pauseSchedule(ops.temporal, id, note)],
  ['unpause', 'unpause a schedule', (ops, id, note) => unpauseSchedule(ops.temporal, id, note)],
  ['trigger', 'run a schedule\'s workflow now (its overlap policy applies)', (ops, id) => triggerSchedule(ops.temporal, id)],
  ['delete', 'delete a schedule (`schedules apply` creates it again)', (ops, id) => deleteSchedule(ops.temporal, id)],
];
for (const [name, description, act] of scheduleActions) {
  schedules
    .command(name)
    .description(description)
    .argument('<schedule-id>', 'e.g. tego-backup-daily (see `schedules list`)')
    .option('--note <text>', 'why, shown on the schedule', `${name} by ${defaultRequester()}`)
    .action(async (id: string, opts: { note: string }) => {
      await withClient((ops) => act(ops, id, opts.note));
      console.log(`${name}: ${id}`);
    });
}

registerRunCommands(program, withClient);
registerAlertCommands(program, withClient);

program
  .command('codec-server')
  .description('serve /encode and /decode with the payload keys, so people holding a token read encrypted payloads (Temporal UI codec endpoint, temporal --codec-endpoint)')
  .option('--port <port>', 'port to listen on (0: any free one)', '8888')
  .option('--host <address>', 'address to listen on', '127.0.0.1')
  .option('--ui-origin <origin>', 'the Temporal UI origin browsers call from', 'http://127.0.0.1:8233')
  .action(async (opts: { port: string; host: string; uiOrigin: string }) => {
    const inventory = await loadInventory(program.opts<{ config: string }>().config);
    const encryption = inventory.temporal.payloadEncryption;
    if (!encryption?.codecServerTokensEnv) {
      throw new InvalidInputError(['temporal.payloadEncryption.keysEnv and .codecServerTokensEnv must be set in the inventory to serve a codec']);
    }
    const tokens = process.env[encryption.codecServerTokensEnv];
    if (!tokens) throw new InvalidInputError([`environment variable ${encryption.codecServerTokensEnv} (temporal.payloadEncryption.codecServerTokensEnv) is not set`]);
    const server = await startCodecServer({
      codec: payloadCodecFromEnv(encryption.keysEnv)!,
      port: Number(opts.port),
      host: opts.host,
      allowedOrigin: opts.uiOrigin,
      tokens: parseCodecServerTokens(tokens, encryption.codecServerTokensEnv),
    });
    console.log(`codec server listening on ${server.url} (for the UI at ${opts.uiOrigin}); Ctrl-C stops it`);
    await new Promise<void>((resolve) => {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => resolve());
    });
    await server.close();
  });

function parseList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return items;
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof InventoryError || err instanceof InvalidInputError || err instanceof PayloadEncryptionError) {
    console.error(err.message);
    process.exit(ExitCode.usage);
  }
  console.error(`tego-ops: ${(err as Error).message ?? String(err)}`);
  process.exit(ExitCode.failed);
});
