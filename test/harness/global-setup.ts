import { join, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFile } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import type {} from 'vitest';
import { startSandbox, stopSandbox, type SandboxOptions, type SandboxState } from './sandbox';

declare module 'vitest' {
  export interface ProvidedContext {
    sandbox: SandboxState;
    workflowBundlePath: string;
  }
}

/** The suite's own sandbox, on ports apart from the interactive one so both can run at once. */
const testSandbox: SandboxOptions = {
  stateDir: process.env.TEGO_TEST_SANDBOX_DIR ?? '/tmp/tego-test-sandbox',
  portBase: Number(process.env.TEGO_TEST_PORT_BASE ?? 30000),
  containerNamePrefix: process.env.TEGO_TEST_CONTAINER_PREFIX ?? 'test-',
};

export default async function setup(project: TestProject) {
  const started = Date.now();
  const { state } = await startSandbox(testSandbox, (line) => console.log(`[sandbox] ${line}`));
  // Bundled once here, so each worker process the tests start is ready in a second, not ten.
  const { code } = await bundleWorkflowCode({ workflowsPath: resolve(__dirname, '../../workflows/index.ts') });
  const workflowBundlePath = join(state.stateDir, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, code);
  console.log(`[sandbox] ready for the tests in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide('sandbox', state);
  project.provide('workflowBundlePath', workflowBundlePath);
  return async () => {
    await stopSandbox(testSandbox);
  };
}
