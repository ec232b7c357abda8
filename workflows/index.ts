export { backupAllWorkflow } from './backup-all';
export { backupRetentionWorkflow } from './backup-retention';
export { backupStatusWorkflow } from './backup-status';
export { backupVerifyWorkflow } from './backup-verify';
export { configBackupWorkflow } from './config-backup';
export { healthCheckWorkflow } from './health-check';
export { postgresBackupWorkflow } from './postgres-backup';
export { redisBackupWorkflow } from './redis-backup';
