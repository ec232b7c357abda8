export { backupAllWorkflow } from './backup-all';
export { configBackupWorkflow } from './config-backup';
export { healthCheckWorkflow } from './health-check';
export { postgresBackupWorkflow } from './postgres-backup';
export { redisBackupWorkflow } from './redis-backup';
