import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorType } from '../workflows/error-types';
import { timedProbe, type ProbeResult } from './probe-result';

export interface HttpProbeInput {
  url: string;
  timeoutMs: number;
}

/** GETs a health URL; up on 2xx. Reports the version and instance the demo/app body names. */
function probeHttp({ url, timeoutMs }: HttpProbeInput): Promise<ProbeResult> {
  return timedProbe(async () => {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    const body = await response.text();
    const fields = parseJsonObject(body);
    const detail = {
      httpStatus: response.status,
      version: typeof fields.version === 'string' ? fields.version : null,
      instance: typeof fields.instance === 'string' ? fields.instance : null,
    };
    if (!response.ok) {
      const why = typeof fields.reason === 'string' ? fields.reason : body.slice(0, 200).trim();
      return { status: 'down', reason: `HTTP ${response.status}${why ? `: ${why}` : ''}`, detail };
    }
    return { status: 'up', detail };
  });
}

export function createHttpActivities() {
  return {
    probeHttp,

    /**
     * A gate: returns once requests through `url` (a load balancer) have been answered by every one of
     * `instances` (the demo apps and ours name themselves in the reply and in `X-Instance`).
     * @throws ApplicationFailure `NotHealthyYet` (retryable) naming those not seen in 200 requests
     */
    async requireTrafficReaches({ url, instances }: { url: string; instances: string[] }): Promise<{ requests: number }> {
      const missing = new Set(instances);
      let requests = 0;
      while (missing.size > 0 && requests < 200) {
        requests++;
        const response = await fetch(url, { signal: AbortSignal.timeout(5000) }).catch(() => null);
        const instance = response?.headers.get('x-instance');
        await response?.body?.cancel();
        if (instance) missing.delete(instance);
      }
      if (missing.size > 0) throw ApplicationFailure.retryable(`no request through ${url} reached ${[...missing].join(', ')} in ${requests} tries`, ErrorType.NotHealthyYet);
      return { requests };
    },

    /**
     * Watches a health URL for `seconds`, probing every half second: the monitor period after a deploy.
     * @throws ApplicationFailure `Unhealthy` (non-retryable) at the first probe that fails
     */
    async watchHealthy({ url, timeoutMs, seconds }: HttpProbeInput & { seconds: number }): Promise<{ probes: number }> {
      const context = Context.current();
      const deadline = Date.now() + seconds * 1000;
      let probes = 0;
      while (Date.now() < deadline) {
        const result = await probeHttp({ url, timeoutMs });
        probes++;
        if (result.status !== 'up') throw ApplicationFailure.nonRetryable(`${url} failed while watched (probe ${probes}): ${result.reason ?? result.status}`, ErrorType.Unhealthy);
        context.heartbeat({ probes });
        await context.sleep(500);
      }
      return { probes };
    },

    /**
     * A health gate: returns when `url` answers 2xx, throws (retryably) while it does not. The workflow's
     * retry policy and schedule-to-close timeout make it a wait with a deadline.
     */
    async requireHealthy({ url, timeoutMs }: HttpProbeInput): Promise<ProbeResult> {
      const result = await probeHttp({ url, timeoutMs });
      if (result.status !== 'up') {
        throw ApplicationFailure.retryable(`${url} is not healthy: ${result.reason ?? result.status}`, ErrorType.NotHealthyYet);
      }
      return result;
    },
  };
}

function parseJsonObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
