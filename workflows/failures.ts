/** The innermost cause's message of a Temporal failure chain (ChildWorkflowFailure → ActivityFailure → ApplicationFailure). */
export function rootMessage(err: unknown): string {
  let current = err as { message?: string; cause?: unknown } | undefined;
  while (current?.cause) current = current.cause;
  return current?.message ?? String(err);
}
