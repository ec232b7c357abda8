import type { ActivityOptions } from '@temporalio/workflow';

/** Named option presets for proxied activities, so every workflow times and retries the same way. */
export const ActivityPresets = {
  /** Quick reads (inventory, probes). Probes report "down" themselves; retries cover worker loss. */
  probe: {
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
  },
  /**
   * Probes on a host's own queue: if no worker serves that host, say so after a bound instead of
   * waiting forever for one to appear.
   */
  hostProbe: {
    scheduleToStartTimeout: '15 seconds',
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumAttempts: 3 },
  },
} as const satisfies Record<string, ActivityOptions>;
