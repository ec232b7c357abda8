import { Context } from '@temporalio/activity';

/**
 * Heartbeats `progress()` every few seconds while `work` runs, so Temporal sees a long activity
 * alive, the UI shows how far it got, and a cancellation reaches it. The SDK throttles the calls.
 */
export async function withProgressHeartbeat<T>(progress: () => unknown, work: () => Promise<T>, everyMs = 5000): Promise<T> {
  const context = Context.current();
  const timer = setInterval(() => {
    try {
      context.heartbeat(progress());
    } catch {
      // The activity is ending (completed, cancelled, worker shutting down): nothing left to report.
    }
  }, everyMs);
  context.heartbeat(progress());
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}
