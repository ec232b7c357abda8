import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { round1 } from '../workflows/health-report';
import { assertLocalHost, type ActivityDeps } from './deps';
import { listHostContainers } from './docker';

export interface ContainerUsage {
  container: string;
  service: string;
  state: string;
  cpuPercent: number | null;
  memoryBytes: number | null;
  memoryLimitBytes: number | null;
  memoryPercent: number | null;
}

export interface ContainerLogErrors {
  container: string;
  service: string;
  lines: number;
  errors: number;
  /** The first few matching lines, to say what kind of errors. */
  samples: string[];
}

export interface AuthFailures {
  node: string;
  logFile: string;
  failedLogins: number;
  byUser: Record<string, number>;
  samples: string[];
  problem?: string;
}

/** A log line that reports an error: what the guide's "检查错误日志" greps for. */
const errorLine = /\b(error|fatal|panic|exception|critical)\b/i;
/** PostgreSQL's own words for a refused login. */
const failedLogin = /password authentication failed for user "([^"]*)"|no pg_hba\.conf entry for host "[^"]*", user "([^"]*)"|role "([^"]*)" does not exist/;
const sampleCount = 5;

/** The daily inspection's reads on one host: its containers' resource use and logs, its PostgreSQL logs. */
export function createHostInspectionActivities(deps: ActivityDeps) {
  return {
    /** `docker stats` of every tego-managed container on the host, one sample each. */
    async containerResourceUsage(host: string): Promise<ContainerUsage[]> {
      assertLocalHost(deps, host);
      const docker = deps.docker(host);
      return Promise.all(
        (await listHostContainers(deps, host)).map(async (c): Promise<ContainerUsage> => {
          const base = { container: c.name, service: c.service, state: c.state };
          if (c.state !== 'running') return { ...base, cpuPercent: null, memoryBytes: null, memoryLimitBytes: null, memoryPercent: null };
          const stats = await docker.getContainer(c.id).stats({ stream: false });
          const cpuDelta = stats.cpu_stats.cpu_usage.total_usage - stats.precpu_stats.cpu_usage.total_usage;
          const systemDelta = (stats.cpu_stats.system_cpu_usage ?? 0) - (stats.precpu_stats.system_cpu_usage ?? 0);
          const cpus = stats.cpu_stats.online_cpus ?? 1;
          // Page cache is not the app's: subtract it as `docker stats` does (cgroup v2 reports inactive_file).
          const cache = Number((stats.memory_stats.stats as Record<string, number> | undefined)?.inactive_file ?? 0);
          const memory = Math.max((stats.memory_stats.usage ?? 0) - cache, 0);
          const limit = stats.memory_stats.limit ?? null;
          return {
            ...base,
            cpuPercent: systemDelta > 0 ? round1((cpuDelta / systemDelta) * cpus * 100) : null,
            memoryBytes: memory,
            memoryLimitBytes: limit,
            memoryPercent: limit ? round1((memory / limit) * 100) : null,
          };
        }),
      );
    },

    /** Counts error lines each tego-managed container on the host logged since `since` (ISO time). */
    async containerLogErrors({ host, since }: { host: string; since: string }): Promise<ContainerLogErrors[]> {
      assertLocalHost(deps, host);
      const docker = deps.docker(host);
      return Promise.all(
        (await listHostContainers(deps, host)).map(async (c) => {
          const output = (await docker.getContainer(c.id).logs({ stdout: true, stderr: true, follow: false, since: Math.floor(Date.parse(since) / 1000) }));
          const lines = demultiplex(output).split('\n').filter((l) => l.trim() !== '');
          const errors = lines.filter((l) => errorLine.test(l));
          return {
            container: c.name,
            service: c.service,
            lines: lines.length,
            errors: errors.length,
            samples: errors.slice(0, sampleCount).map((l) => l.slice(0, 300)),
          };
        }),
      );
    },

    /** Failed logins each PostgreSQL node on this host logged since `since`, from its `logFile`. */
    async postgresAuthFailures({ host, since }: { host: string; since: string }): Promise<AuthFailures[]> {
      assertLocalHost(deps, host);
      const nodes = (deps.inventory.postgres?.nodes ?? []).filter((n) => n.host === host && n.logFile);
      const from = Date.parse(since);
      return Promise.all(
        nodes.map(async (node): Promise<AuthFailures> => {
          const result: AuthFailures = { node: node.name, logFile: node.logFile!, failedLogins: 0, byUser: {}, samples: [] };
          try {
            const lines = createInterface({ input: createReadStream(node.logFile!), crlfDelay: Infinity });
            for await (const line of lines) {
              const match = failedLogin.exec(line);
              if (!match) continue;
              const at = logLineTime(line);
              if (at !== undefined && at < from) continue;
              const user = match[1] ?? match[2] ?? match[3] ?? 'unknown';
              result.failedLogins += 1;
              result.byUser[user] = (result.byUser[user] ?? 0) + 1;
              if (result.samples.length < sampleCount) result.samples.push(line.slice(0, 300));
            }
          } catch (err) {
            result.problem = `cannot read ${node.logFile}: ${(err as Error).message}`;
          }
          return result;
        }),
      );
    },
  };
}

/**
 * A container without a TTY sends its logs multiplexed: frames of an 8-byte header (stream, 3 zero
 * bytes, big-endian length) and the payload. A TTY container's logs are plain text.
 */
export function demultiplex(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length && (buffer[offset] === 1 || buffer[offset] === 2) && buffer.readUIntBE(offset + 1, 3) === 0) {
    const length = buffer.readUInt32BE(offset + 4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return offset === 0 ? buffer.toString('utf8') : Buffer.concat(parts).toString('utf8');
}

/**
 * The time a PostgreSQL log line starts with (`%m`: "2026-12-05 03:40:01.123 UTC"). Zones other than
 * UTC/GMT or a numeric offset are not resolved: such lines are counted whatever their time.
 */
export function logLineTime(line: string): number | undefined {
  const match = /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?) (UTC|GMT|[+-]\d\d(?::?\d\d)?)\b/.exec(line);
  if (!match) return undefined;
  const [, day, time, zone] = match;
  const offset = zone === 'UTC' || zone === 'GMT' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.replace(/^([+-]\d\d)(\d\d)$/, '$1:$2');
  const at = Date.parse(`${day}T${time}${offset}`);
  return Number.isFinite(at) ? at : undefined;
}
