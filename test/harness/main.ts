import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { Command } from 'commander';
import { defaultSandbox, startSandbox, stopSandbox, type SandboxOptions } from './sandbox';

/**
 * The sandbox command: `up` starts the whole infrastructure (and with --worker, a worker serving it,
 * in the foreground until Ctrl-C); `down` stops it.
 */
const program = new Command().name('sandbox').description('tego-ops sandbox: real infrastructure on loopback');
const options = (): SandboxOptions => ({
  stateDir: program.opts<{ dir: string }>().dir,
  portBase: Number(program.opts<{ portBase: string }>().portBase),
  containerNamePrefix: defaultSandbox.containerNamePrefix,
});
program
  .option('--dir <path>', 'state directory', defaultSandbox.stateDir)
  .option('--port-base <port>', 'ports are allocated upward from here', String(defaultSandbox.portBase));

program
  .command('up')
  .description('start the sandbox; with --worker, also a worker, and stay in the foreground until Ctrl-C')
  .option('--worker', 'run a worker serving every queue, and stop everything on Ctrl-C', false)
  .action(async ({ worker }: { worker: boolean }) => {
    const started = Date.now();
    const say = (line: string) => console.log(`[sandbox] ${line}`);
    say(`starting in ${options().stateDir} ...`);
    const { state } = await startSandbox(options(), say);
    say(`everything is up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    say(`Temporal UI:  ${state.temporalUiUrl}`);
    say(`inventory:    ${state.inventoryPath}`);
    // The CLI needs the payload keys too: the sandbox's Temporal payloads are encrypted.
    say(`try:          set -a; . ${state.stateDir}/secrets.env; set +a; TEGO_OPS_CONFIG=${state.inventoryPath} npx tego-ops health`);
    if (!worker) {
      say(`secrets for a worker are in ${state.stateDir}/secrets.env; stop with: npm run sandbox -- down`);
      return;
    }
    say(`worker metrics: http://127.0.0.1:${state.workerMetricsPort}/metrics   (Ctrl-C stops everything)`);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', resolve(__dirname, '../../workers/main.ts'), '--all-hosts', '--metrics-port', String(state.workerMetricsPort)],
      {
        stdio: 'inherit',
        env: { ...process.env, ...state.env, TEGO_OPS_CONFIG: state.inventoryPath },
        // Its own process group: Ctrl-C reaches only us, and we stop the worker with one SIGTERM
        // before the infrastructure it is using goes away.
        detached: true,
      },
    );
    let stopping = false;
    const stopAll = async (code: number) => {
      if (stopping) return;
      stopping = true;
      say('stopping ...');
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      await stopSandbox(options());
      say('stopped');
      process.exit(code);
    };
    process.on('SIGINT', () => void stopAll(0));
    process.on('SIGTERM', () => void stopAll(0));
    child.once('exit', (code) => void stopAll(code ?? 1));
  });

program
  .command('down')
  .description('stop everything the sandbox started')
  .action(async () => {
    await stopSandbox(options());
    console.log('[sandbox] stopped');
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`sandbox: ${(err as Error).message}`);
  process.exit(1);
});
