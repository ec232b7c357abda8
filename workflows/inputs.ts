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
    components: z.array(z.enum(HealthComponent)).min(1).optional().describe('which component groups to probe (default: all)'),
  })
  .strict();

export type HealthCheckInput = z.input<typeof HealthCheckInputSchema>;

const databaseName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_$-]*$/, 'expected a PostgreSQL database name');

export const PostgresBackupInputSchema = z
  .object({
    databases: z.array(databaseName).min(1).optional().describe('databases to dump (default: the inventory\'s postgres.databases)'),
  })
  .strict();

export type PostgresBackupInput = z.input<typeof PostgresBackupInputSchema>;

export const RedisBackupInputSchema = z.object({}).strict();
export type RedisBackupInput = z.input<typeof RedisBackupInputSchema>;

export const ConfigBackupInputSchema = z
  .object({
    hosts: z.array(z.string().min(1)).min(1).optional().describe('hosts whose config files to archive (default: every host in backup.configPaths)'),
  })
  .strict();
export type ConfigBackupInput = z.input<typeof ConfigBackupInputSchema>;

export const BackupAllInputSchema = z
  .object({
    skip: z.array(z.enum(['postgres', 'redis', 'config'])).optional().describe('kinds to leave out of this run'),
  })
  .strict();
export type BackupAllInput = z.input<typeof BackupAllInputSchema>;

const backupKinds = z.array(z.enum(BackupKind)).min(1);

/** A Temporal duration: a number and a unit, e.g. "90s", "30m", "4h", "2d". */
export const durationSchema = z.string().regex(/^\d+(\.\d+)?\s*(ms|s|m|h|d)$/, 'expected a duration like "30m", "4h" or "2d"');

/**
 * What every mutating workflow accepts besides its own fields: who asks and why, an approval gate and a
 * change window (the guide's 变更管理). Spread into each mutating workflow's schema.
 */
export const changeOptions = {
  /** Wait for an approve/reject signal before changing anything. */
  approval: z
    .object({
      required: z.boolean().describe('wait for an approve/reject signal before changing anything'),
      approvers: z.array(z.string().min(1)).min(1).optional().describe('who may approve or reject (default: anyone but the requester)'),
      timeout: durationSchema.default('24h').describe('how long to wait for a decision, e.g. 30m, 4h (default 24h); then the change is rejected'),
    })
    .strict()
    .optional(),
  window: ChangeWindowSchema.optional().describe('begin mutating steps only inside this window; waits for it to open'),
  requestedBy: z.string().min(1).max(200).default('unknown').describe('who asked for the change (the CLI fills in login@host)'),
  changeId: z
    .string()
    .regex(/^[A-Za-z0-9._:/-]{1,100}$/, 'expected letters, digits and . _ : / - (at most 100)')
    .optional()
    .describe('an id from your change tracker (default: the workflow id)'),
  reason: z.string().max(500).optional().describe('why: shown in the change record and the UI'),
};
export type ChangeOptions = z.output<z.ZodObject<typeof changeOptions>>;

export const RestartServiceInputSchema = z
  .object({
    service: z.string().min(1).describe('the app service whose containers to restart, one at a time'),
    host: z.string().min(1).optional().describe('only its instances on this host (default: every host)'),
    ...changeOptions,
  })
  .strict();
export type RestartServiceInput = z.input<typeof RestartServiceInputSchema>;

export const RestoreDrillInputSchema = z
  .object({
    backupId: z.string().min(1).optional().describe('the PostgreSQL dump to restore (default: the newest of each database)'),
    targetTime: z.iso
      .datetime({ offset: true, message: 'expected an ISO 8601 time like "2026-12-04T01:30:00Z"' })
      .optional()
      .describe('restore to this moment instead, from base backup + WAL, e.g. 2026-12-04T01:30:00Z'),
    redis: z.boolean().default(true).describe('also restore the newest Redis backup and check its key count (default: true)'),
    assertions: z.array(z.object({ database: z.string().min(1).optional(), sql: z.string().min(1) }).strict()).default([]).describe('sQL checks for this drill only, run after the inventory\'s restore.assertions; each must return true'),
  })
  .strict()
  .refine((input) => !(input.backupId && input.targetTime), { message: 'give backupId or targetTime, not both', path: ['targetTime'] });
export type RestoreDrillInput = z.input<typeof RestoreDrillInputSchema>;

export const RestoreInputSchema = z
  .object({
    database: databaseName.optional().describe('the database to restore (default: the first of postgres.databases)'),
    backupId: z.string().min(1).optional().describe('the dump to restore it from (default: its newest)'),
    targetTime: z.iso
      .datetime({ offset: true, message: 'expected an ISO 8601 time like "2026-12-04T01:30:00Z"' })
      .optional()
      .describe('restore it as it was at this moment instead (base backup + WAL)'),
    ...changeOptions,
  })
  .strict()
  .refine((input) => !(input.backupId && input.targetTime), { message: 'give backupId or targetTime, not both', path: ['targetTime'] });
export type RestoreInput = z.input<typeof RestoreInputSchema>;

export const RestoreRedisInputSchema = z
  .object({
    backupId: z.string().min(1).optional().describe('the Redis backup to restore (default: the newest)'),
    ...changeOptions,
  })
  .strict();
export type RestoreRedisInput = z.input<typeof RestoreRedisInputSchema>;

export const ChangesInputSchema = z
  .object({
    limit: z.number().int().min(1).max(1000).default(20).describe('how many records, newest first (default: 20)'),
    kind: z.string().min(1).optional(),
    target: z.string().min(1).optional(),
    changeId: z.string().min(1).optional(),
  })
  .strict();
export type ChangesInput = z.input<typeof ChangesInputSchema>;

export const BackupRetentionInputSchema = z
  .object({
    kinds: backupKinds.optional().describe('kinds to apply retention to (default: all)'),
    /** List what would be deleted, delete nothing. @default false */
    dryRun: z.boolean().default(false),
    incompleteGraceHours: z.number().positive().optional().describe('override backup.retention.incompleteGraceHours for this run'),
    ...changeOptions,
  })
  .strict();
export type BackupRetentionInput = z.input<typeof BackupRetentionInputSchema>;

export const BackupVerifyInputSchema = z
  .object({
    kinds: backupKinds.optional(),
    latestOnly: z.boolean().default(false).describe('only the newest complete backup of each kind (quick), or all of them (default: false)'),
  })
  .strict();
export type BackupVerifyInput = z.input<typeof BackupVerifyInputSchema>;

export const BackupStatusInputSchema = z.object({}).strict();
export type BackupStatusInput = z.input<typeof BackupStatusInputSchema>;

export const BaseBackupInputSchema = z.object({}).strict();
export type BaseBackupInput = z.input<typeof BaseBackupInputSchema>;

export const WalArchiveInputSchema = z
  .object({
    periodSeconds: z.number().int().min(10).max(86_400).default(3600).describe('how long each archiving activity runs before the workflow continues as new (default: 3600)'),
  })
  .strict();
export type WalArchiveInput = z.input<typeof WalArchiveInputSchema>;

export const OffsiteCopyInputSchema = z
  .object({
    kinds: backupKinds.optional(),
  })
  .strict();
export type OffsiteCopyInput = z.input<typeof OffsiteCopyInputSchema>;

const nodeName = z.string().min(1);

export const DbSwitchoverInputSchema = z
  .object({
    replica: nodeName.optional().describe('the replica to hand the primary role to (default: the only replica, or the one with the least lag)'),
    dryRun: z.boolean().default(false).describe('check the preconditions and report the plan, change nothing (default: false)'),
    ...changeOptions,
  })
  .strict();
export type DbSwitchoverInput = z.input<typeof DbSwitchoverInputSchema>;

export const DbFailoverInputSchema = z
  .object({
    replica: nodeName.optional().describe('the replica to promote (default: the one that received the most WAL)'),
    probes: z.number().int().min(1).max(60).default(6).describe('probes that must all find the primary down before failing over (default: 6)'),
    probeInterval: durationSchema.default('1s').describe('time between probes; (probes - 1) × interval is the detection period (default: 1s, so 5 s)'),
    force: z.boolean().default(false).describe('promote even when the data the replica lacks is over maxLagBytes or unknown, or the old primary cannot be fenced (default: false)'),
    ...changeOptions,
  })
  .strict();
export type DbFailoverInput = z.input<typeof DbFailoverInputSchema>;

export const DbRejoinInputSchema = z
  .object({
    node: nodeName.describe('the former primary (or lagging replica) to bring back as a replica of the primary'),
    ...changeOptions,
  })
  .strict();
export type DbRejoinInput = z.input<typeof DbRejoinInputSchema>;

const imageRef = z.string().regex(/^[\w][\w.\-/:@]*$/, 'expected an image reference like registry.internal/tego-os:1.9.0');

export const RollingDeployInputSchema = z
  .object({
    service: z.string().min(1).optional().describe('the service to deploy (or give services for several, in order)'),
    image: imageRef.optional().describe('its new image, e.g. registry.internal/tego-os:1.9.0'),
    services: z
      .array(z.object({ service: z.string().min(1), image: imageRef }).strict())
      .min(1)
      .optional()
      .describe('several services in order, each with its image (the guide: tego-os, tego-os-server, tego-mcp)'),
    batchSize: z.number().int().min(1).default(1).describe('instances replaced at a time (default: 1)'),
    order: z
      .enum(['stop-first', 'start-first'])
      .default('stop-first')
      .describe('stop-first: drain, replace in place; start-first: start the new container beside the old on a free port, switch nginx, retire the old (the instance moves port) (default: stop-first)'),
    monitorPeriod: durationSchema.default('10s').describe('how long each batch is watched after it is back in nginx (default: 10s)'),
    maxFailureRatio: z.number().min(0).max(1).default(0).describe('share of instances that may fail (each rolled back alone) before the whole deploy is (default: 0)'),
    healthTimeout: durationSchema.default('60s').describe('how long a new instance has to pass its health check (default: 60s)'),
    drainTimeout: durationSchema.default('30s').describe('how long requests in flight may take to finish after an instance leaves nginx (default: 30s)'),
    ...changeOptions,
  })
  .strict()
  .refine((i) => (i.services ? !i.service && !i.image : Boolean(i.service && i.image)), {
    message: 'give service and image, or services (a list of { service, image }), not both',
    path: ['service'],
  });
export type RollingDeployInput = z.input<typeof RollingDeployInputSchema>;

export const ScaleOutInputSchema = z
  .object({
    service: z.string().min(1).describe('the service to add instances of'),
    host: z.string().min(1).describe('the host to start them on (its worker runs them)'),
    count: z.number().int().min(1).max(20).default(1).describe('how many (default: 1)'),
    ports: z.array(z.number().int().min(1).max(65535)).min(1).optional().describe('their host ports (default: the next free ones on the host)'),
    ...changeOptions,
  })
  .strict()
  .refine((i) => !i.ports || i.ports.length === i.count, { message: 'give one port per new instance (count)', path: ['ports'] });
export type ScaleOutInput = z.input<typeof ScaleOutInputSchema>;

export const ScaleInInputSchema = z
  .object({
    service: z.string().min(1).describe('the service to remove instances of'),
    host: z.string().min(1).optional().describe('remove them from this host (default: the last placed)'),
    count: z.number().int().min(1).default(1).describe('how many (default: 1)'),
    minInstances: z.number().int().min(1).default(2).describe('never leave fewer instances than this (default: 2)'),
    drainTimeout: durationSchema.default('30s').describe('how long requests in flight may take to finish (default: 30s)'),
    ...changeOptions,
  })
  .strict();
export type ScaleInInput = z.input<typeof ScaleInInputSchema>;

export const HealthPatrolInputSchema = z
  .object({
    every: durationSchema.optional().describe("time between patrols (default: the inventory's alerts.patrolEvery, 30s)"),
    patrolsPerRun: z.number().int().min(1).max(1000).default(60).describe('patrols before the history is restarted (continue-as-new) (default: 60)'),
    /** Carried across continue-as-new; not for people to set. */
    state: z.unknown().optional(),
  })
  .strict();
export type HealthPatrolInput = z.input<typeof HealthPatrolInputSchema>;

export const DailyInspectionInputSchema = z
  .object({
    notify: z.boolean().default(true).describe('send the summary through the alert channels (default: true)'),
  })
  .strict();
export type DailyInspectionInput = z.input<typeof DailyInspectionInputSchema>;
