import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createDeps, createHostActivities, createSharedActivities } from '../activities';
import { dataConverterFor } from '../client/payload-codec';
import type { InventoryFile } from '../inventory/inventory-file';
import { findHost, hostTaskQueue } from '../inventory/topology';
import { createLogger, TemporalLogAdapter } from './logger';
import { createMetrics, startMetricsServer } from './metrics';

export interface WorkerProcessOptions {
  /** The inventory file; activities see its changes (roles rewritten by a failover) without a restart. */
  inventoryFile: InventoryFile;
  /** Serve the shared queue (workflows and network activities). @default true */
  shared: boolean;
  /** Hosts whose queues this process serves: their Docker engines and files are local to it. */
  hosts: string[];
  /** A bundle made by `bundleWorkflowCode`; without it the worker bundles `workflows/` at start. */
  workflowBundlePath?: string;
  /** Port of `/metrics`; Core's exporter listens on the next port, on loopback. 0 turns metrics off. */
  metricsPort: number;
  metricsHost: string;
}

/**
 * Starts the workers of one process and runs them until SIGINT/SIGTERM, then shuts down gracefully:
 * activities in flight finish (or are handed back to Temporal), then the connection closes.
 */
export async function runWorkers(options: WorkerProcessOptions): Promise<void> {
  const logger = createLogger('tego-ops-worker');
  const metrics = createMetrics();
  // Core's exporter stays on loopback; only our /metrics, which includes its output, is exposed.
  const sdkMetricsAddress = options.metricsPort > 0 ? `127.0.0.1:${options.metricsPort + 1}` : undefined;
  Runtime.install({
    logger: new TemporalLogAdapter(logger),
    telemetryOptions: {
      logging: { forward: {}, filter: { core: 'WARN', other: 'ERROR' } },
      ...(sdkMetricsAddress ? { metrics: { prometheus: { bindAddress: sdkMetricsAddress } } } : {}),
    },
  });

  const inventory = options.inventoryFile.current();
  options.hosts.forEach((h) => findHost(inventory, h));
  // Before connecting: a worker whose inventory asks for encryption but lacks the keys must not start.
  const dataConverter = dataConverterFor(inventory);
  const connection = await NativeConnection.connect({ address: inventory.temporal.address });
  const common = {
    connection,
    namespace: inventory.temporal.namespace,
    dataConverter,
    interceptors: { activity: [metrics.activityInterceptor] },
    shutdownGraceTime: '20 seconds',
    // An activity that ignores its cancellation must not keep the process from exiting: after this the
    // worker gives up on it (Temporal retries it elsewhere once its timeout passes) and the process ends.
    shutdownForceTime: '60 seconds',
  } satisfies Partial<WorkerOptions>;

  const workers: Worker[] = [];
  try {
    if (options.shared) {
      workers.push(
        await Worker.create({
          ...common,
          taskQueue: inventory.temporal.taskQueue,
          ...(options.workflowBundlePath
            ? { workflowBundle: { codePath: options.workflowBundlePath } }
            : { workflowsPath: require.resolve('../workflows') }),
          activities: createSharedActivities(createDeps(options.inventoryFile, undefined, metrics.registry)),
        }),
      );
    }
    for (const hostName of options.hosts) {
      const host = findHost(inventory, hostName);
      workers.push(
        await Worker.create({
          ...common,
          taskQueue: hostTaskQueue(host),
          activities: createHostActivities(createDeps(options.inventoryFile, host.name)),
        }),
      );
    }
    if (workers.length === 0) throw new Error('nothing to serve: give --host, or leave the shared queue on');

    const served = workers.map((w) => w.options.taskQueue);
    let metricsServer;
    if (options.metricsPort > 0) {
      metricsServer = await startMetricsServer({
        host: options.metricsHost,
        port: options.metricsPort,
        registry: metrics.registry,
        sdkMetricsUrl: `http://${sdkMetricsAddress}/metrics`,
      });
    }
    logger.info(
      { trace_id: null, metadata: { taskQueues: served, metrics: metricsServer?.url ?? 'off', temporal: inventory.temporal.address } },
      'worker started',
    );
    await Promise.all(workers.map((w) => w.run()));
    metricsServer?.server.close();
    logger.info({ trace_id: null, metadata: { taskQueues: served } }, 'worker stopped');
  } finally {
    await connection.close();
  }
}
