import { Command, InvalidArgumentError } from 'commander';
import { defaultInventoryPath, InventoryError, loadInventory } from '../inventory/load';
import { HealthComponent } from '../workflows/inputs';
import { formatHealthReport } from './format-health';
import { InvalidInputError, OpsClient } from './ops-client';

/** Exit codes scripts can rely on. */
export const ExitCode = { ok: 0, failed: 1, usage: 2 } as const;

const program = new Command()
  .name('tego-ops')
  .description('Durable ops automation for the TeGo-AI platform, on Temporal')
  .option('-c, --config <file>', 'inventory file (ops.yaml)', defaultInventoryPath())
  .showHelpAfterError();

async function withClient<T>(work: (ops: OpsClient) => Promise<T>): Promise<T> {
  const inventory = await loadInventory(program.opts<{ config: string }>().config);
  const ops = await OpsClient.connect(inventory);
  try {
    return await work(ops);
  } finally {
    await ops.close();
  }
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

function parseList(value: string): string[] {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new InvalidArgumentError('expected a comma-separated list');
  return items;
}

program.parseAsync().catch((err: unknown) => {
  if (err instanceof InventoryError || err instanceof InvalidInputError) {
    console.error(err.message);
    process.exit(ExitCode.usage);
  }
  console.error(`tego-ops: ${(err as Error).message ?? String(err)}`);
  process.exit(ExitCode.failed);
});
