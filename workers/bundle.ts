import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';

/**
 * Prebuilds the workflow bundle (`npm run bundle [-- <file>]`, default dist/workflow-bundle.js).
 * A worker given it (TEGO_WORKFLOW_BUNDLE) starts in a second and never runs webpack, whose memory
 * peak would otherwise set the worker's peak RSS.
 */
async function main(): Promise<void> {
  const target = resolve(process.argv[2] ?? 'dist/workflow-bundle.js');
  const { code } = await bundleWorkflowCode({ workflowsPath: resolve(__dirname, '../workflows/index.ts') });
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, code);
  console.log(`workflow bundle written to ${target} (${(code.length / 2 ** 20).toFixed(1)} MiB)`);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
