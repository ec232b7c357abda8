import { execFile, spawn } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile, writeFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { promisify } from 'node:util';

export const run = promisify(execFile);

/** uid/gid to run a server as; PostgreSQL refuses root, so as root we drop to the `postgres` user. */
export interface RunAs {
  uid: number;
  gid: number;
}

/** Starts a long-running server detached from this process, logging to `logFile`, and records its pid. */
export async function spawnDaemon(options: {
  command: string;
  args: string[];
  logFile: string;
  pidFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  runAs?: RunAs;
}): Promise<number> {
  const log = openSync(options.logFile, 'a');
  try {
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', log, log],
      env: options.env ?? process.env,
      cwd: options.cwd,
      ...options.runAs,
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('error', (err) => reject(new Error(`cannot start ${options.command}: ${err.message}`)));
      child.once('spawn', () => resolve(child.pid!));
    });
    child.unref();
    await writeFile(options.pidFile, `${pid}\n`);
    return pid;
  } finally {
    closeSync(log);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function readPid(pidFile: string): Promise<number | undefined> {
  try {
    const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Signals the process in `pidFile`, waits for it to exit, and kills it if it does not in time. */
export async function stopPidFile(pidFile: string, signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15_000): Promise<void> {
  const pid = await readPid(pidFile);
  if (pid !== undefined && isAlive(pid)) {
    process.kill(pid, signal);
    const exited = await waitUntil(() => !isAlive(pid), timeoutMs, 100).then(() => true, () => false);
    if (!exited && isAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  await rm(pidFile, { force: true });
}

/** Polls `check` until it returns true; rejects naming `what` after `timeoutMs`. */
export async function waitUntil(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  intervalMs = 200,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export function portAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForPort(port: number, what: string, timeoutMs = 60_000): Promise<void> {
  await waitUntil(() => portAnswers(port), timeoutMs, 200, `${what} on 127.0.0.1:${port}`);
}
