import { z } from 'zod';
import { BackupKind } from '../inventory/backup-catalog';
import { ChangeWindowSchema } from './change-window';

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

/** A Temporal duration: a number and a unit, e.g. "90s", "30m", "4h", "2d". */
const duration = z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'expected a duration like "30m", "4h" or "2d"');

/**
 * What every mutating workflow accepts besides its own fields: who asks and why, an approval gate and a
 * change window (the guide's 变更管理). Spread into each mutating workflow's schema.
 */
export const changeOptions = {
  /** Wait for an approve/reject signal before changing anything. */
  approval: z
    .object({
      required: z.boolean(),
      /** Who may approve or reject; anyone but the requester when absent. */
      approvers: z.array(z.string().min(1)).min(1).optional(),
      /** How long to wait for a decision before giving up (the change is then rejected). @default "24h" */
      timeout: duration.default('24h'),
    })
    .strict()
    .optional(),
  /** Begin mutating steps only inside this window; waits for it to open. */
  window: ChangeWindowSchema.optional(),
  /** Who asked for the change (the CLI fills in the user). @default "unknown" */
  requestedBy: z.string().min(1).max(200).default('unknown'),
  /** An id from your change tracker; the workflow id when absent. */
  changeId: z.string().regex(/^[A-Za-z0-9._:/-]{1,100}$/, 'expected letters, digits and . _ : / - (at most 100)').optional(),
  /** Why: shown in the change record and the UI. */
  reason: z.string().max(500).optional(),
};
export type ChangeOptions = z.output<z.ZodObject<typeof changeOptions>>;

export const RestartServiceInputSchema = z
  .object({
    /** The app service whose containers to restart, one at a time. */
    service: z.string().min(1),
    /** Only its instances on this host. @default every host */
    host: z.string().min(1).optional(),
    ...changeOptions,
  })
  .strict();
export type RestartServiceInput = z.input<typeof RestartServiceInputSchema>;

export const RestoreDrillInputSchema = z
  .object({
    /** The PostgreSQL dump to restore. @default the newest complete dump of each database */
    backupId: z.string().min(1).optional(),
    /** Restore to this moment instead (base backup + archived WAL), e.g. "2026-12-04T01:30:00Z". */
    targetTime: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 time like "2026-12-04T01:30:00Z"' }).optional(),
    /** Also restore the newest Redis backup and check its key count. @default true */
    redis: z.boolean().default(true),
    /** SQL checks for this drill only, run after the inventory's `restore.assertions`; each must return true. */
    assertions: z.array(z.object({ database: z.string().min(1).optional(), sql: z.string().min(1) }).strict()).default([]),
  })
  .strict()
  .refine((input) => !(input.backupId && input.targetTime), { message: 'give backupId or targetTime, not both', path: ['targetTime'] });
export type RestoreDrillInput = z.input<typeof RestoreDrillInputSchema>;

export const RestoreInputSchema = z
  .object({
    /** The database to restore. @default postgres.database */
    database: databaseName.optional(),
    /** The dump to restore it from. @default the newest complete dump of that database */
    backupId: z.string().min(1).optional(),
    /** Restore it as it was at this moment instead (base backup + archived WAL), e.g. "2026-12-04T01:30:00Z". */
    targetTime: z.iso.datetime({ offset: true, message: 'expected an ISO 8601 time like "2026-12-04T01:30:00Z"' }).optional(),
    ...changeOptions,
  })
  .strict()
  .refine((input) => !(input.backupId && input.targetTime), { message: 'give backupId or targetTime, not both', path: ['targetTime'] });
export type RestoreInput = z.input<typeof RestoreInputSchema>;

export const RestoreRedisInputSchema = z
  .object({
    /** The Redis backup to restore. @default the newest complete one */
    backupId: z.string().min(1).optional(),
    ...changeOptions,
  })
  .strict();
export type RestoreRedisInput = z.input<typeof RestoreRedisInputSchema>;

export const ChangesInputSchema = z
  .object({
    /** How many records, newest first. @default 20 */
    limit: z.number().int().min(1).max(1000).default(20),
    kind: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
    changeId: z.string().min(1).optional(),
  })
  .strict();
export type ChangesInput = z.input<typeof ChangesInputSchema>;

export const BackupRetentionInputSchema = z
  .object({
    /** Kinds to apply retention to. @default all */
    kinds: backupKinds.optional(),
    /** List what would be deleted, delete nothing. @default false */
    dryRun: z.boolean().default(false),
    /** Override backup.retention.incompleteGraceHours for this run. */
    incompleteGraceHours: z.number().positive().optional(),
    ...changeOptions,
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
