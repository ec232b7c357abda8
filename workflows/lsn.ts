/** PostgreSQL WAL positions ("16/B374D848"): pure, so workflows and activities share it. */

export function lsnToBigInt(lsn: string): bigint {
  const [high, low] = lsn.split('/');
  return (BigInt(`0x${high}`) << 32n) + BigInt(`0x${low}`);
}

/** `a - b` in bytes (negative when `a` is behind `b`). */
export function compareLsn(a: string, b: string): number {
  return Number(lsnToBigInt(a) - lsnToBigInt(b));
}
