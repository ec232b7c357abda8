import type { S3Client } from '@aws-sdk/client-s3';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { afterAll, beforeAll, inject } from 'vitest';
import type { Progress, StepProgress } from '../../workflows/progress';
import { waitUntil } from './daemon';
import { sandboxS3 } from './storage';
import { sandboxClient, uniqueId } from './temporal-client';
import { startWorkerProcess, type WorkerProcess } from './worker-process';

/**
 * What most test files need, set up once per file: the sandbox, a Temporal client, an S3 client on
 * its bucket and a real worker process. `worker` may be replaced by a test that kills it.
 */
export function useSandbox() {
  const suite = {
    sandbox: inject('sandbox'),
    bundlePath: inject('workflowBundlePath'),
    client: undefined as unknown as Client,
    s3: undefined as unknown as S3Client,
    worker: undefined as unknown as WorkerProcess,
    /** Runs a workflow on the shared queue with a unique id and waits for its result. */
    run<T>(workflowType: string, input: unknown = {}): Promise<T> {
      return suite.client.workflow.execute<(input: unknown) => Promise<T>>(workflowType, {
        taskQueue: 'ops',
        workflowId: uniqueId(workflowType),
        args: [input],
      });
    },
    /**
     * Kills the worker (SIGKILL) as soon as the run's `progress` shows a step `isStep` accepts, then
     * starts a fresh one: the run must carry on from its history.
     */
    async killWorkerAt(handle: WorkflowHandle, isStep: (step: StepProgress) => boolean, what: string): Promise<void> {
      await waitUntil(async () => (await handle.query<Progress>('progress')).steps.some(isStep), 60_000, 20, what);
      await suite.worker.kill();
      await new Promise((r) => setTimeout(r, 1000));
      await suite.restartWorker();
    },
    /** Replaces the file's worker with a fresh process (after a test killed it). */
    async restartWorker(): Promise<void> {
      suite.worker = await startWorkerProcess(suite.sandbox, { bundlePath: suite.bundlePath });
    },
  };
  beforeAll(async () => {
    suite.client = await sandboxClient(suite.sandbox);
    suite.s3 = sandboxS3(suite.sandbox);
    await suite.restartWorker();
  });
  afterAll(async () => {
    await suite.worker?.stop();
    await suite.client?.connection.close();
    suite.s3?.destroy();
  });
  return suite;
}
