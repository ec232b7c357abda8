/**
 * The innermost failure in a chain that carries a stable `type` (an ApplicationFailure under an
 * ActivityFailure under a WorkflowFailedError ...): what a test asserts on, never on wrapping.
 */
export function innermostTypedFailure(err: unknown): { type?: string; message: string } {
  let found = err as { type?: string; message: string; cause?: unknown };
  for (let current = found; current; current = current.cause as typeof current) if (current.type) found = current;
  return found;
}

/** The stable type of the innermost typed failure. */
export function failureType(err: unknown): string | undefined {
  return innermostTypedFailure(err).type;
}
