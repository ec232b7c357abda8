import { ApplicationFailure } from '@temporalio/workflow';
import type { z } from 'zod';
import { formatIssues } from '../inventory/format-issues';
import { ErrorType } from './error-types';

/**
 * Validates workflow input at the door, with the schema the CLI and client use.
 * Runs before any activity, so bad input touches nothing.
 * @throws ApplicationFailure non-retryable, type `InvalidInput`, one field-level line per problem;
 *   the lines are also in `details[0].issues`.
 */
export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issues = formatIssues(result.error);
  throw ApplicationFailure.create({
    message: `invalid input: ${issues.join('; ')}`,
    type: ErrorType.InvalidInput,
    nonRetryable: true,
    details: [{ issues }],
  });
}
