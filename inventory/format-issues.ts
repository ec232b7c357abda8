import type { z } from 'zod';

/**
 * Renders zod issues as one line per problem, each led by the field path in the form a person
 * would type it: `services[2].health.path: expected string`.
 */
export function formatIssues(error: z.ZodError): string[] {
  // zod leads with "Invalid input: " or "Invalid option: "; the path already says where, so drop it.
  return error.issues.map(
    (issue) => `${formatPath(issue.path)}: ${issue.message.replace(/^Invalid (input|option): /, '')}`,
  );
}

export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path
    .map((key, index) => {
      if (typeof key === 'number') return `[${key}]`;
      const name = String(key);
      return index === 0 ? name : `.${name}`;
    })
    .join('');
}
