import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { startSandbox, stopSandbox, type SandboxOptions, type SandboxState } from '../test/harness/sandbox';
import { sandboxClient } from '../test/harness/temporal-client';
import { startWorkerProcess, type WorkerProcess } from '../test/harness/worker-process';

export interface BenchContext {
  sandbox: SandboxState;
  client: Client;
  worker: WorkerProcess;
}

/**
 * Runs a benchmark on a sandbox of its own (ports and names apart from the tests'), with a client and a
 * worker serving every host from a prebuilt bundle, as the Docker image does; tears it all down after,
 * unless `keep`. Exits the process with 1 on failure.
 */
export function runBench(bench: SandboxOptions, keep: boolean, body: (context: BenchContext) => Promise<void>): void {
  const main = async () => {
    console.log(`[bench] starting a sandbox on ports ${bench.portBase}+ ...`);
    const { state: sandbox } = await startSandbox(bench);
    const client = await sandboxClient(sandbox);
    const bundlePath = join(sandbox.stateDir, 'workflow-bundle.js');
    execFileSync(process.execPath, ['--import', 'tsx', join(__dirname, '../workers/bundle.ts'), bundlePath]);
    const worker = await startWorkerProcess(sandbox, { args: ['--all-hosts'], bundlePath });
    try {
      await body({ sandbox, client, worker });
    } finally {
      await worker.stop();
      await client.connection.close();
      if (!keep) await stopSandbox(bench);
    }
  };
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
