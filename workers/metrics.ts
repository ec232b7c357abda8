import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Context } from '@temporalio/activity';
import type { ActivityInboundCallsInterceptor, ActivityInterceptorsFactory } from '@temporalio/worker';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Our own metrics; the SDK's come from Core's Prometheus exporter and are served beside them. */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tego_worker_' });
  const activityDuration = new Histogram({
    name: 'tego_activity_duration_seconds',
    help: 'Duration of tego-ops activity executions by activity type and outcome',
    labelNames: ['activity', 'task_queue', 'outcome'] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
    registers: [registry],
  });

  /** Times every activity execution into `tego_activity_duration_seconds`. */
  const activityInterceptor: ActivityInterceptorsFactory = (ctx: Context) => {
    const inbound: ActivityInboundCallsInterceptor = {
      async execute(input, next) {
        const end = activityDuration.startTimer({
          activity: ctx.info.activityType,
          task_queue: ctx.info.taskQueue,
        });
        try {
          const result = await next(input);
          end({ outcome: 'completed' });
          return result;
        } catch (err) {
          end({ outcome: 'failed' });
          throw err;
        }
      },
    };
    return { inbound };
  };

  return { registry, activityInterceptor };
}

/**
 * Serves `/metrics`: the SDK's metrics (fetched from Core's exporter on `sdkMetricsUrl`) followed by ours.
 * One scrape target per worker process.
 */
export async function startMetricsServer(options: {
  host: string;
  port: number;
  registry: Registry;
  sdkMetricsUrl?: string;
}): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('not found; try /metrics\n');
      return;
    }
    void renderMetrics(options.registry, options.sdkMetricsUrl).then(
      (text) => res.writeHead(200, { 'Content-Type': options.registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(`metrics unavailable: ${err.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://${options.host}:${port}/metrics` };
}

async function renderMetrics(registry: Registry, sdkMetricsUrl?: string): Promise<string> {
  const ours = await registry.metrics();
  if (!sdkMetricsUrl) return ours;
  const response = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2000) });
  const sdk = await response.text();
  return `${sdk.trimEnd()}\n${ours}`;
}
