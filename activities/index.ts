import { createAccessLogActivities } from './access-log';
import { createAlertingActivities } from './alerting';
import { createAppContainerActivities } from './app-containers';
import { createBackupCatalogActivities } from './backup-catalog';
import { createBaseBackupActivities } from './base-backup';
import { createChangeRecordActivities } from './change-records';
import { createDatabaseRestoreActivities } from './database-restore';
import { createConfigBackupActivities } from './config-backup';
import type { ActivityDeps } from './deps';
import { createDockerActivities } from './docker';
import { createHostInspectionActivities } from './host-inspection';
import { createHttpActivities } from './http';
import { createNotifyActivities } from './notify';
import { createOffsiteCopyActivities } from './offsite-copy';
import { createPatrolMetricsActivities } from './patrol-metrics';
import { createInventoryActivities } from './inventory';
import { createLoadBalancerActivities } from './load-balancer';
import { createPostgresActivities } from './postgres';
import { createPostgresBackupActivities } from './postgres-backup';
import { createPostgresServerActivities } from './postgres-server';
import { createRedisActivities } from './redis';
import { createReplicationActivities } from './replication';
import { createRedisBackupActivities } from './redis-backup';
import { createRedisRestoreActivities } from './redis-restore';
import { createScalingActivities } from './scaling';
import { createScratchCopyActivities } from './scratch-copy';
import { createScratchActivities } from './scratch-instances';
import { createStorageActivities } from './storage';
import { createWalArchiveActivities } from './wal-archive';

/** Activities that may run on any worker: they reach their systems over the network. */
export function createSharedActivities(deps: ActivityDeps) {
  return {
    ...createInventoryActivities(deps),
    ...createHttpActivities(),
    ...createPostgresActivities(deps),
    ...createRedisActivities(deps),
    ...createStorageActivities(deps),
    ...createPostgresBackupActivities(deps),
    ...createBackupCatalogActivities(deps),
    ...createBaseBackupActivities(deps),
    ...createOffsiteCopyActivities(deps),
    ...createChangeRecordActivities(deps),
    ...createDatabaseRestoreActivities(deps),
    ...createReplicationActivities(deps),
    ...createScalingActivities(deps),
    ...createAlertingActivities(deps),
    ...createNotifyActivities(deps),
    ...createPatrolMetricsActivities(deps),
  };
}

/** Activities that act on one host (its Docker engine, its files); served on that host's task queue. */
export function createHostActivities(deps: ActivityDeps) {
  return {
    ...createDockerActivities(deps),
    ...createRedisBackupActivities(deps),
    ...createConfigBackupActivities(deps),
    ...createWalArchiveActivities(deps),
    ...createScratchActivities(deps),
    ...createScratchCopyActivities(deps),
    ...createRedisRestoreActivities(deps),
    ...createAppContainerActivities(deps),
    ...createLoadBalancerActivities(deps),
    ...createPostgresServerActivities(deps),
    ...createAccessLogActivities(deps),
    ...createHostInspectionActivities(deps),
  };
}

export type SharedActivities = ReturnType<typeof createSharedActivities>;
export type HostActivities = ReturnType<typeof createHostActivities>;

export { createDeps, type ActivityDeps } from './deps';
