/** Milliseconds of a validated duration ("90s", "30m", "4h", "2d"), as the input schemas accept them. */
export function msOf(duration: string): number {
  const [, amount, unit] = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/.exec(duration)!;
  const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(amount) * unitMs;
}
