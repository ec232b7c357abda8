/** What one probe found. Probes report a component that is down; they do not throw for it. */
export interface ProbeResult {
  status: 'up' | 'down' | 'degraded';
  latencyMs: number;
  /** Why the component is not up, in words a person can act on. */
  reason?: string;
  detail: Record<string, string | number | boolean | null>;
}

/** Runs a probe, timing it, and turns a thrown error into a `down` result with the error as reason. */
export async function timedProbe(
  probe: () => Promise<Omit<ProbeResult, 'latencyMs'>>,
): Promise<ProbeResult> {
  const started = performance.now();
  try {
    const result = await probe();
    return { ...result, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return {
      status: 'down',
      latencyMs: Math.round(performance.now() - started),
      reason: describeError(err),
      detail: {},
    };
  }
}

export function describeError(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) return describeError(err.errors[0]);
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    const cause = err.cause instanceof Error ? `: ${describeError(err.cause)}` : '';
    const message = err.message || code || err.name;
    return code && !message.includes(code) ? `${code} ${message}${cause}` : `${message}${cause}`;
  }
  return String(err);
}
