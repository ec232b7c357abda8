export { healthCheckWorkflow } from './health-check';
export { postgresBackupWorkflow } from './postgres-backup';
