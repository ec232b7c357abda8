import { ActivityFailure, ApplicationFailure, isCancellation, proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { HostActivities, SharedActivities } from '../activities';
import type { HttpProbeInput } from '../activities/http';
import type { ProbeResult } from '../activities/probe-result';
import { ActivityPresets } from './activity-options';
import { ErrorType } from './error-types';
import { rootMessage } from './failures';

/**
 * Gates: an activity that throws (retryably) until its condition holds, retried by Temporal until it
 * does or the gate's deadline (its schedule-to-close timeout) runs out. However a gate ends past its
 * deadline — the last check's answer, or the deadline reached before any check finished (a busy worker,
 * a check still waiting on its own timeout) — it fails with the gate's one type, naming what it waited
 * for and for how long, so callers see one kind of failure for "the condition never held".
 */

/**
 * Waits until `target` answers 2xx, for at most `within` (milliseconds or a Temporal duration).
 * @throws ApplicationFailure `NotHealthyYet` (non-retryable) when the deadline passed without a healthy answer
 */
export function healthGate(within: number | string, retry?: ActivityOptions['retry']) {
  const gate = proxyActivities<SharedActivities>({ ...ActivityPresets.healthGate, scheduleToCloseTimeout: within, ...(retry ? { retry } : {}) });
  return {
    requireHealthy: (target: HttpProbeInput): Promise<ProbeResult> =>
      untilDeadline(`${target.url} did not become healthy`, within, ErrorType.NotHealthyYet, () => gate.requireHealthy(target)),
  };
}

/**
 * Waits until requests through `url` (nginx) have reached every one of `instances`, for at most `within`.
 * @throws ApplicationFailure `NotHealthyYet` (non-retryable) when some were still not reached at the deadline
 */
export function trafficGate(within: string) {
  const gate = proxyActivities<SharedActivities>({ ...ActivityPresets.healthGate, scheduleToCloseTimeout: within });
  return {
    requireTrafficReaches: (target: { url: string; instances: string[] }): Promise<{ requests: number }> =>
      untilDeadline(`requests through ${target.url} did not reach ${target.instances.join(', ')}`, within, ErrorType.NotHealthyYet, () => gate.requireTrafficReaches(target)),
  };
}

/**
 * The nginx drain gate on the load balancer's queue, with `drainTimeout` as its deadline; polled
 * quickly, since requests in flight usually end within a second.
 * @throws ApplicationFailure `NotDrainedYet` (non-retryable) when nginx's old workers still ran at the deadline
 */
export function nginxDrainGate(taskQueue: string, drainTimeout: string) {
  const gate = proxyActivities<HostActivities>({
    startToCloseTimeout: '10 seconds',
    scheduleToCloseTimeout: drainTimeout,
    taskQueue,
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 1.5, maximumInterval: '2 seconds' },
  });
  return {
    requireNginxDrained: (): Promise<{ drained: true }> =>
      untilDeadline('requests in flight through nginx did not finish', drainTimeout, ErrorType.NotDrainedYet, () => gate.requireNginxDrained()),
  };
}

async function untilDeadline<T>(what: string, within: number | string, type: string, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (err) {
    if (isCancellation(err) || !(err instanceof ActivityFailure)) throw err;
    const deadline = typeof within === 'number' ? `${within / 1000} s` : within;
    const lastCheck = lastCheckFailure(err);
    throw ApplicationFailure.create({
      type,
      nonRetryable: true,
      message: `${what} within ${deadline}: ${lastCheck?.message ?? `no check finished in time (${rootMessage(err)})`}`,
      // The last check's answer is the reason underneath; a bare timeout has none to give.
      cause: lastCheck,
    });
  }
}

/** The failure the last finished check threw (under the activity's and its timeout's wrappers), if any did. */
function lastCheckFailure(err: unknown): ApplicationFailure | undefined {
  let found: ApplicationFailure | undefined;
  for (let current = err as { cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current instanceof ApplicationFailure) found = current;
  }
  return found;
}
