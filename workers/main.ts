import { Command, Option } from 'commander';
import { InventoryError, loadInventory, defaultInventoryPath } from '../inventory/load';
import { InventoryFile } from '../inventory/inventory-file';
import { runWorkers } from './run-workers';

const program = new Command()
  .name('tego-ops-worker')
  .description('Runs tego-ops workers: the shared queue, and the queues of the hosts this process runs on.')
  .option('-c, --config <file>', 'inventory file', defaultInventoryPath())
  .option('--host <name...>', "serve these hosts' task queues (ops@<host>); this process acts on their Docker and files", [])
  .option('--all-hosts', 'serve every host of the inventory (single-machine sandbox)', false)
  .option('--no-shared', 'do not serve the shared queue (a host-only worker)')
  .addOption(new Option('--metrics-port <port>', 'port of /metrics; 0 turns it off').default(9464).argParser(Number))
  .option('--metrics-host <address>', 'address /metrics listens on', '127.0.0.1')
  .addOption(new Option('--workflow-bundle <file>', 'prebuilt workflow bundle').env('TEGO_WORKFLOW_BUNDLE'));

async function main(): Promise<void> {
  const opts = program.parse().opts<{
    config: string;
    host: string[];
    allHosts: boolean;
    shared: boolean;
    metricsPort: number;
    metricsHost: string;
    workflowBundle?: string;
  }>();
  const inventory = await loadInventory(opts.config);
  await runWorkers({
    inventoryFile: new InventoryFile(opts.config, inventory),
    shared: opts.shared,
    hosts: opts.allHosts ? inventory.hosts.map((h) => h.name) : opts.host,
    workflowBundlePath: opts.workflowBundle,
    metricsPort: opts.metricsPort,
    metricsHost: opts.metricsHost,
  });
}

main().catch((err: unknown) => {
  // A person reads this: the inventory's problems one a line, anything else as its message.
  console.error(err instanceof InventoryError ? err.message : `tego-ops-worker: ${(err as Error).message ?? err}`);
  process.exit(err instanceof InventoryError ? 2 : 1);
});
