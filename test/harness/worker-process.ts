import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { resolve } from 'node:path';
import type { SandboxState } from './sandbox';

const workerMain = resolve(__dirname, '../../workers/main.ts');

export interface WorkerProcess {
  child: ChildProcess;
  /** Every JSON log line the worker printed so far. */
  logs: Record<string, unknown>[];
  /** Sends SIGTERM and resolves with the exit code once it has shut down. */
  stop(): Promise<number | null>;
  /** SIGKILL: the crash a fault test needs. */
  kill(): Promise<void>;
}

/**
 * Starts a real worker process (workers/main.ts) against the sandbox, as production runs it, and
 * resolves once it logs that it serves its queues.
 */
export async function startWorkerProcess(
  sandbox: SandboxState,
  options: { args?: string[]; bundlePath?: string; metricsPort?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<WorkerProcess> {
  const args = [
    '--import', 'tsx', workerMain,
    '--metrics-port', String(options.metricsPort ?? 0),
    ...(options.args ?? ['--all-hosts']),
  ];
  const child = spawn(process.execPath, args, {
    env: {
      ...process.env,
      ...sandbox.env,
      TEGO_OPS_CONFIG: sandbox.inventoryPath,
      ...(options.bundlePath ? { TEGO_WORKFLOW_BUNDLE: options.bundlePath } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  // Everything the worker prints is also kept in the sandbox's logs, for a failure to be read later.
  const logFile = createWriteStream(resolve(sandbox.stateDir, 'logs', `worker-${child.pid}.log`));
  child.stdout.pipe(logFile);
  child.stderr.pipe(logFile);
  let buffered = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop()!;
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ raw: line });
      }
    }
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));

  const deadline = Date.now() + 60_000;
  while (!logs.some((l) => l.message === 'worker started')) {
    if (child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}: ${stderr}`);
    if (Date.now() > deadline) throw new Error(`worker did not start in 60 s: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    child,
    logs,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
