import type { z } from 'zod';
import { HealthCheckInputSchema, PostgresBackupInputSchema } from '../workflows/inputs';

/**
 * Every workflow a person or program may start, by kind: its workflow type, the schema its input is
 * validated with (here before starting, and again by the workflow), and its workflow id prefix.
 */
export const WorkflowKinds = {
  health: {
    workflowType: 'healthCheckWorkflow',
    inputSchema: HealthCheckInputSchema,
    description: 'probe every component of the inventory and report each with its latency',
  },
  'backup-postgres': {
    workflowType: 'postgresBackupWorkflow',
    inputSchema: PostgresBackupInputSchema,
    description: 'dump each database through compression into the bucket, with a manifest written last',
  },
} as const satisfies Record<string, { workflowType: string; inputSchema: z.ZodType; description: string }>;

export type WorkflowKind = keyof typeof WorkflowKinds;
export type WorkflowInput<K extends WorkflowKind> = z.input<(typeof WorkflowKinds)[K]['inputSchema']>;
