import { z } from 'zod';

/**
 * Input schemas of every workflow: the workflows validate with them at the start, and the CLI and
 * client validate with them before starting one. Types are derived from them, never written twice.
 */

export const HealthComponent = {
  apps: 'apps',
  loadBalancer: 'loadBalancer',
  postgres: 'postgres',
  redis: 'redis',
  storage: 'storage',
  containers: 'containers',
} as const;

export const HealthCheckInputSchema = z
  .object({
    /** Which component groups to probe. @default all */
    components: z.array(z.enum(HealthComponent)).min(1).optional(),
  })
  .strict();

export type HealthCheckInput = z.input<typeof HealthCheckInputSchema>;

const databaseName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$-]*$/, 'expected a PostgreSQL database name');

export const PostgresBackupInputSchema = z
  .object({
    /** Databases to dump. @default the inventory's postgres.databases */
    databases: z.array(databaseName).min(1).optional(),
  })
  .strict();

export type PostgresBackupInput = z.input<typeof PostgresBackupInputSchema>;

export const RedisBackupInputSchema = z.object({}).strict();
export type RedisBackupInput = z.input<typeof RedisBackupInputSchema>;

export const ConfigBackupInputSchema = z
  .object({
    /** Hosts whose config files to archive. @default every host in backup.configPaths */
    hosts: z.array(z.string().min(1)).min(1).optional(),
  })
  .strict();
export type ConfigBackupInput = z.input<typeof ConfigBackupInputSchema>;

export const BackupAllInputSchema = z
  .object({
    /** Kinds to leave out of this run. */
    skip: z.array(z.enum(['postgres', 'redis', 'config'])).optional(),
  })
  .strict();
export type BackupAllInput = z.input<typeof BackupAllInputSchema>;
