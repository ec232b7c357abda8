import { z } from 'zod';
import { BackupKind } from '../inventory/backup-catalog';

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

const backupKinds = z.array(z.enum(BackupKind)).min(1);

export const BackupRetentionInputSchema = z
  .object({
    /** Kinds to apply retention to. @default all */
    kinds: backupKinds.optional(),
    /** List what would be deleted, delete nothing. @default false */
    dryRun: z.boolean().default(false),
    /** Override backup.retention.incompleteGraceHours for this run. */
    incompleteGraceHours: z.number().positive().optional(),
  })
  .strict();
export type BackupRetentionInput = z.input<typeof BackupRetentionInputSchema>;

export const BackupVerifyInputSchema = z
  .object({
    kinds: backupKinds.optional(),
    /** Only the newest complete backup of each kind (quick), or all of them. @default false */
    latestOnly: z.boolean().default(false),
  })
  .strict();
export type BackupVerifyInput = z.input<typeof BackupVerifyInputSchema>;

export const BackupStatusInputSchema = z.object({}).strict();
export type BackupStatusInput = z.input<typeof BackupStatusInputSchema>;

export const BaseBackupInputSchema = z.object({}).strict();
export type BaseBackupInput = z.input<typeof BaseBackupInputSchema>;

export const WalArchiveInputSchema = z
  .object({
    /** How long each archiving activity runs before the workflow continues as new. @default 3600 */
    periodSeconds: z.number().int().min(10).max(86_400).default(3600),
  })
  .strict();
export type WalArchiveInput = z.input<typeof WalArchiveInputSchema>;

export const OffsiteCopyInputSchema = z
  .object({
    kinds: backupKinds.optional(),
  })
  .strict();
export type OffsiteCopyInput = z.input<typeof OffsiteCopyInputSchema>;
