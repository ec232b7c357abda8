export { healthCheckWorkflow } from './health-check';
