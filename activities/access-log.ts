import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { assertLocalHost, type ActivityDeps } from './deps';

/** Requests one frontend answered in the part of the log read. */
export interface FrontendTraffic {
  service: string;
  requests: number;
  /** 5xx answers: what the guide's 错误率 counts. */
  serverErrors: number;
  unauthorized: number;
  forbidden: number;
}

export interface AccessLogSummary {
  /** Where the next read starts. */
  offset: number;
  /** The file was shorter than the offset asked for: it was rotated, and reading restarted at its start. */
  rotated: boolean;
  bytesRead: number;
  frontends: FrontendTraffic[];
  /** 401/403 answers by client address, most first: the guide's 未授权访问 check. */
  deniedByClient: { client: string; unauthorized: number; forbidden: number }[];
  /** Lines that were not the JSON format tego-ops renders (another server's format, a torn line). */
  unreadable: number;
}

/** One request as the rendered `log_format` writes it (activities/nginx-config.ts). */
interface LoggedRequest {
  port?: string;
  status?: string;
  remote?: string;
}

/**
 * Counts what the load balancer's JSON access log says since `offset`: per frontend the requests, 5xx,
 * 401 and 403; per client the denials. Without an offset it starts at the end, so the first read counts
 * nothing and sets the mark. At most `maxBytes` are read: when more was written, the newest part is.
 */
export function createAccessLogActivities(deps: ActivityDeps) {
  return {
    async summarizeAccessLog({ host, offset, maxBytes }: { host: string; offset?: number; maxBytes?: number }): Promise<AccessLogSummary | null> {
      assertLocalHost(deps, host);
      const lb = deps.inventory.loadBalancer;
      if (!lb?.accessLog) return null;
      const size = await stat(lb.accessLog).then(
        (s) => s.size,
        (err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return 0;
          throw err;
        },
      );
      const rotated = offset !== undefined && offset > size;
      let start = offset === undefined ? size : rotated ? 0 : offset;
      let skipFirstLine = false;
      if (maxBytes !== undefined && size - start > maxBytes) {
        start = size - maxBytes;
        skipFirstLine = true; // begins mid-line
      }
      const servicesByPort = new Map(lb.frontends.map((f) => [String(f.listen), f.service]));
      const frontends = new Map<string, FrontendTraffic>();
      const denied = new Map<string, { client: string; unauthorized: number; forbidden: number }>();
      let unreadable = 0;
      let bytesRead = 0;
      if (size > start) {
        const lines = createInterface({ input: createReadStream(lb.accessLog, { start, end: size - 1 }), crlfDelay: Infinity });
        for await (const line of lines) {
          bytesRead += Buffer.byteLength(line) + 1;
          if (skipFirstLine) {
            skipFirstLine = false;
            continue;
          }
          const request = parseLine(line);
          const service = request?.port ? servicesByPort.get(request.port) : undefined;
          if (!request || !service) {
            if (line.trim()) unreadable += 1;
            continue;
          }
          const status = Number(request.status);
          const traffic = frontends.get(service) ?? { service, requests: 0, serverErrors: 0, unauthorized: 0, forbidden: 0 };
          traffic.requests += 1;
          if (status >= 500) traffic.serverErrors += 1;
          if (status === 401) traffic.unauthorized += 1;
          if (status === 403) traffic.forbidden += 1;
          frontends.set(service, traffic);
          if (status === 401 || status === 403) {
            const client = request.remote ?? 'unknown';
            const entry = denied.get(client) ?? { client, unauthorized: 0, forbidden: 0 };
            if (status === 401) entry.unauthorized += 1;
            else entry.forbidden += 1;
            denied.set(client, entry);
          }
        }
      }
      return {
        offset: size,
        rotated,
        bytesRead,
        frontends: [...frontends.values()],
        deniedByClient: [...denied.values()].sort((a, b) => b.unauthorized + b.forbidden - (a.unauthorized + a.forbidden)),
        unreadable,
      };
    },
  };
}

function parseLine(line: string): LoggedRequest | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as LoggedRequest;
  } catch {
    return undefined;
  }
}
