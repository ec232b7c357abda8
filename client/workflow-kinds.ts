import type { z } from 'zod';
import {
  BackupAllInputSchema,
  BackupRetentionInputSchema,
  BackupStatusInputSchema,
  BackupVerifyInputSchema,
  BaseBackupInputSchema,
  ChangesInputSchema,
  OffsiteCopyInputSchema,
  ConfigBackupInputSchema,
  DailyInspectionInputSchema,
  DbFailoverInputSchema,
  DbRejoinInputSchema,
  DbSwitchoverInputSchema,
  HealthCheckInputSchema,
  HealthPatrolInputSchema,
  PostgresBackupInputSchema,
  RedisBackupInputSchema,
  RestartServiceInputSchema,
  RestoreDrillInputSchema,
  RestoreInputSchema,
  RestoreRedisInputSchema,
  RollingDeployInputSchema,
  ScaleInInputSchema,
  ScaleOutInputSchema,
  WalArchiveInputSchema,
} from '../workflows/inputs';

/**
 * Every workflow a person or program may start, by kind: its workflow type, the schema its input is
 * validated with (here before starting, and again by the workflow), and its workflow id prefix.
 */
export const WorkflowKinds = {
  patrol: {
    workflowType: 'healthPatrolWorkflow',
    inputSchema: HealthPatrolInputSchema,
    description: 'every 30 s: probe everything, evaluate the alert rules, open or update one incident per alert (runs until cancelled)',
  },
  'daily-inspection': {
    workflowType: 'dailyInspectionWorkflow',
    inputSchema: DailyInspectionInputSchema,
    description: "the guide's daily checklist as a report (health, docker stats, error logs, backups, security events) to the bucket, summary by notification",
  },
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
  'backup-redis': {
    workflowType: 'redisBackupWorkflow',
    inputSchema: RedisBackupInputSchema,
    description: 'BGSAVE, wait until it has really finished, check and upload the RDB',
  },
  'backup-config': {
    workflowType: 'configBackupWorkflow',
    inputSchema: ConfigBackupInputSchema,
    description: "archive and encrypt each host's configured files (compose, .env, nginx)",
  },
  'backup-base': {
    workflowType: 'baseBackupWorkflow',
    inputSchema: BaseBackupInputSchema,
    description: 'a physical base backup, the starting point of point-in-time recovery',
  },
  'wal-archive': {
    workflowType: 'walArchiveWorkflow',
    inputSchema: WalArchiveInputSchema,
    description: 'keep WAL streaming into the bucket (runs until cancelled)',
  },
  'backup-offsite': {
    workflowType: 'offsiteCopyWorkflow',
    inputSchema: OffsiteCopyInputSchema,
    description: 'copy complete backups not yet off-site to the second bucket',
  },
  'backup-all': {
    workflowType: 'backupAllWorkflow',
    inputSchema: BackupAllInputSchema,
    description: 'every backup kind as child workflows, one report',
  },
  'backup-retention': {
    workflowType: 'backupRetentionWorkflow',
    inputSchema: BackupRetentionInputSchema,
    description: 'delete backups past their retention, keeping the newest and the minCount floor',
  },
  'backup-verify': {
    workflowType: 'backupVerifyWorkflow',
    inputSchema: BackupVerifyInputSchema,
    description: 're-read stored backups and check them against their manifests',
  },
  'backup-status': {
    workflowType: 'backupStatusWorkflow',
    inputSchema: BackupStatusInputSchema,
    description: 'the newest complete backup of each source and its age',
  },
  'restart-service': {
    workflowType: 'restartServiceWorkflow',
    inputSchema: RestartServiceInputSchema,
    description: "restart a service's containers one at a time, each healthy before the next (a managed change)",
  },
  restore: {
    workflowType: 'restoreWorkflow',
    inputSchema: RestoreInputSchema,
    description: 'restore a database from a dump in production: apps stopped, safety backup, swap, apps healthy (a managed change)',
  },
  'restore-redis': {
    workflowType: 'restoreRedisWorkflow',
    inputSchema: RestoreRedisInputSchema,
    description: 'restore Redis in its container from an RDB backup: safety backup, put in place, key count checked (a managed change)',
  },
  'restore-drill': {
    workflowType: 'restoreDrillWorkflow',
    inputSchema: RestoreDrillInputSchema,
    description: 'restore the newest backups (or one, or a moment in time) into scratch instances and prove them',
  },
  'db-switchover': {
    workflowType: 'dbSwitchoverWorkflow',
    inputSchema: DbSwitchoverInputSchema,
    description: 'planned switchover to a caught-up replica with no data loss; apps repointed, old primary rejoined (a managed change)',
  },
  'db-failover': {
    workflowType: 'dbFailoverWorkflow',
    inputSchema: DbFailoverInputSchema,
    description: 'the primary is down: confirm it, fence it, promote the best replica within maxLagBytes, repoint the apps (a managed change)',
  },
  'db-rejoin': {
    workflowType: 'dbRejoinWorkflow',
    inputSchema: DbRejoinInputSchema,
    description: 'bring a fenced former primary back as a streaming replica (pg_rewind when needed) (a managed change)',
  },
  deploy: {
    workflowType: 'rollingDeployWorkflow',
    inputSchema: RollingDeployInputSchema,
    description: 'rolling deploy of a new image, batch by batch: drained from nginx, health-gated, watched; automatic rollback (a managed change)',
  },
  'scale-out': {
    workflowType: 'scaleOutWorkflow',
    inputSchema: ScaleOutInputSchema,
    description: 'start more instances of a service on a host, healthy before nginx sends them traffic (a managed change)',
  },
  'scale-in': {
    workflowType: 'scaleInWorkflow',
    inputSchema: ScaleInInputSchema,
    description: 'remove instances of a service: out of nginx and drained first, never below minInstances (a managed change)',
  },
  changes: {
    workflowType: 'changesWorkflow',
    inputSchema: ChangesInputSchema,
    description: 'the change log: every managed change, newest first',
  },
} as const satisfies Record<string, { workflowType: string; inputSchema: z.ZodType; description: string }>;

export type WorkflowKind = keyof typeof WorkflowKinds;

/** The kind whose workflow type is `workflowType`, for runs started elsewhere (UI, schedules). */
export function kindOfWorkflowType(workflowType: string): WorkflowKind | undefined {
  return (Object.keys(WorkflowKinds) as WorkflowKind[]).find((kind) => WorkflowKinds[kind].workflowType === workflowType);
}

/** Kinds that change infrastructure: they accept approval, window, requestedBy, changeId and reason. */
export function isManagedChange(kind: WorkflowKind): boolean {
  const schema = WorkflowKinds[kind].inputSchema;
  return 'shape' in schema && 'requestedBy' in schema.shape;
}
export type WorkflowInput<K extends WorkflowKind> = z.input<(typeof WorkflowKinds)[K]['inputSchema']>;
