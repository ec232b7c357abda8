import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import type { SandboxState } from './sandbox';

const cli = resolve(__dirname, '../../client/bin/tego-ops.js');

/** Runs the tego-ops CLI as a user would; resolves with its exit code and output instead of throwing. */
export async function tegoOps(sandbox: SandboxState, args: string[], env: NodeJS.ProcessEnv = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], {
      env: { ...process.env, TEGO_OPS_CONFIG: sandbox.inventoryPath, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
