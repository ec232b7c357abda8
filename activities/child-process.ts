import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { Context } from '@temporalio/activity';

export type Piped = ChildProcessByStdio<Writable, Readable, Readable>;

/**
 * Spawns a tool whose stdout is consumed as a stream. `exited` resolves on exit 0 and rejects with
 * the tool's name, exit code and the tail of its stderr otherwise, so the error says what went wrong.
 */
export function spawnPiped(
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): { child: Piped; exited: Promise<void>; stderr: () => string } {
  // A cancelled activity takes its processes with it (SIGTERM): a restore or dump left running would hold
  // its database connection and keep the worker from shutting down. Work begun once the cancellation has
  // arrived (the WAL archiver's last upload) is let finish.
  const signal = activityCancellation();
  const cancelled = signal?.aborted ? undefined : signal;
  const child = spawn(command, args, { env: env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'], signal: cancelled });
  // A tool that exits early breaks the pipe we write to; that must not crash the worker with an
  // unhandled EPIPE. Its exit status, in `exited`, is the error that counts.
  child.stdin.on('error', () => undefined);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-16_000);
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (err) => {
      // Cancelled: the kill is under way, and `close` settles once the process is gone.
      if (!cancelled?.aborted) reject(new Error(`cannot run ${command}: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else if (cancelled?.aborted) reject(new Error(`${command} was stopped: the activity was cancelled`));
      else reject(new Error(`${command} ${signal ? `was killed by ${signal}` : `exited with ${code}`}: ${stderr.trim() || '(no output)'}`));
    });
  });
  // The caller awaits `exited`; this keeps an early failure from being reported as unhandled.
  exited.catch(() => undefined);
  return { child, exited, stderr: () => stderr };
}

/** The first line a tool prints for `--version` (or `-V`), for manifests. */
export async function toolVersion(command: string, flag = '--version'): Promise<string> {
  const { child, exited } = spawnPiped(command, [flag]);
  child.stdin.end();
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  await exited;
  return out.split('\n')[0].trim();
}

/** Versions of the tools that made a backup, for its manifest: `tools` plus the compressor used. */
export async function toolVersions(tools: string[], compression: 'zstd' | 'gzip' | 'none'): Promise<Record<string, string>> {
  const versions: Record<string, string> = {};
  for (const tool of tools) versions[tool] = await toolVersion(tool);
  if (compression !== 'none') versions[compression] = await toolVersion(compression, compression === 'zstd' ? '-V' : '--version');
  return versions;
}

/** Runs a tool to completion with nothing on stdin. @throws its name, exit code and stderr on failure */
export async function runTool(command: string, args: string[], env?: NodeJS.ProcessEnv): Promise<void> {
  const { child, exited } = spawnPiped(command, args, env);
  child.stdin.end();
  child.stdout.resume();
  await exited;
}

/** The running activity's cancellation signal; none outside an activity (the CLI, tests, benchmarks). */
function activityCancellation(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}
