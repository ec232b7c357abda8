import type { z } from 'zod';
import type { InventorySchema } from '../../inventory/schema';
import type { SandboxLayout } from './layout';
import { sandboxBucket, sandboxOffsiteBucket } from './services/minio';
import { DemoImages } from './services/images';
import { nginxPaths } from './services/nginx';
import { postgresNodes } from './services/postgres';
import { registryAddress } from './services/registry';
import { dockerSocket } from './services/docker-engine';

/** Environment variables holding the sandbox's secrets; the inventory names them, never their values. */
export const SecretEnv = {
  postgresPassword: 'TEGO_PG_PASSWORD',
  redisPassword: 'TEGO_REDIS_PASSWORD',
  s3AccessKeyId: 'TEGO_S3_ACCESS_KEY_ID',
  s3SecretAccessKey: 'TEGO_S3_SECRET_ACCESS_KEY',
  backupKey: 'TEGO_BACKUP_KEY',
  /** `id:base64key`: every Temporal payload of the sandbox is encrypted, as production should be. */
  payloadKeys: 'TEGO_PAYLOAD_KEYS',
  /** Bearer token of the codec server (`tego-ops codec-server`) the Temporal UI and CLI decode through. */
  codecServerTokens: 'TEGO_CODEC_TOKENS',
  /** The incoming-webhook URL alerts are posted to (a Slack URL carries a token, hence a secret). */
  alertWebhookUrl: 'TEGO_ALERT_WEBHOOK_URL',
} as const;

/** Id of the sandbox's payload key, written in clear beside each encrypted payload. */
export const sandboxPayloadKeyId = 'sandbox-1';

/** Per host, the directory standing in for the guide's /opt/tego-docs/deploy-main (compose file, .env). */
export function sandboxDeployDir(layout: SandboxLayout, host: string): string {
  return `${layout.stateDir}/deploy/${host}`;
}

/** The guide's services, spread over two logical hosts that share this machine's one Docker engine. */
const sandboxServices = [
  { name: 'tego-os', port: 26000, healthPath: '/health', usesDatabase: false, placement: { host1: 2, host2: 1 } },
  { name: 'tego-os-server', port: 29000, healthPath: '/api/health', usesDatabase: true, placement: { host1: 1, host2: 1 } },
  { name: 'tego-mcp', port: 27000, healthPath: '/health', usesDatabase: true, placement: { host2: 1 } },
  { name: 'tego-llm', port: 31000, healthPath: '/health', usesDatabase: true, placement: { host1: 1 } },
] as const;

/** The inventory describing exactly what the sandbox starts: the same file format production uses. */
export function sandboxInventory(layout: SandboxLayout, containerNamePrefix: string): z.input<typeof InventorySchema> {
  const { ports } = layout;
  const pg = postgresNodes(layout);
  const nginx = nginxPaths(layout);
  let nextPort = ports.instanceBase;
  const hosts = ['host1', 'host2'].map((name) => ({
    name,
    address: '127.0.0.1',
    docker: { socketPath: dockerSocket },
  }));
  return {
    temporal: {
      address: `127.0.0.1:${ports.temporal}`,
      namespace: 'default',
      taskQueue: 'ops',
      payloadEncryption: { keysEnv: SecretEnv.payloadKeys, codecServerTokensEnv: SecretEnv.codecServerTokens },
    },
    containerNamePrefix,
    hosts,
    services: sandboxServices.map((svc) => ({
      name: svc.name,
      image: DemoImages.v1,
      port: svc.port,
      // Host networking lets the demo apps reach PostgreSQL on loopback, as apps on a host would reach it.
      network: 'host' as const,
      health: { path: svc.healthPath, timeoutMs: 2000 },
      usesDatabase: svc.usesDatabase,
      placement: Object.entries(svc.placement).map(([host, count]) => ({
        host,
        ports: Array.from({ length: count }, () => nextPort++),
      })),
    })),
    postgres: {
      user: 'postgres',
      passwordEnv: SecretEnv.postgresPassword,
      database: 'tego_engine',
      databases: ['tego_engine'],
      maxLagBytes: 16 * 1024 * 1024,
      nodes: [
        { name: pg.primary.name, host: 'host1', address: '127.0.0.1', port: pg.primary.port, role: 'primary', dataDirectory: pg.primary.dataDirectory, logFile: `${pg.primary.dataDirectory}/server.log` },
        { name: pg.replica.name, host: 'host2', address: '127.0.0.1', port: pg.replica.port, role: 'replica', dataDirectory: pg.replica.dataDirectory, logFile: `${pg.replica.dataDirectory}/server.log` },
      ],
    },
    redis: {
      host: 'host1',
      address: '127.0.0.1',
      port: ports.redis,
      passwordEnv: SecretEnv.redisPassword,
      dataDirectory: layout.paths.redis,
    },
    storage: {
      endpoint: `http://127.0.0.1:${ports.minio}`,
      region: 'us-east-1',
      bucket: sandboxBucket,
      forcePathStyle: true,
      accessKeyIdEnv: SecretEnv.s3AccessKeyId,
      secretAccessKeyEnv: SecretEnv.s3SecretAccessKey,
    },
    backup: {
      configPaths: [
        { host: 'host1', paths: [sandboxDeployDir(layout, 'host1'), nginx.siteConfig] },
        { host: 'host2', paths: [sandboxDeployDir(layout, 'host2')] },
      ],
      encryption: { keyEnv: SecretEnv.backupKey, keyId: 'sandbox-1' },
      walArchive: { enabled: true, slot: 'tego_wal_archive', stagingDirectory: `${layout.stateDir}/wal-staging` },
      offsite: {
        endpoint: `http://127.0.0.1:${ports.minio}`,
        region: 'us-east-1',
        bucket: sandboxOffsiteBucket,
        forcePathStyle: true,
        accessKeyIdEnv: SecretEnv.s3AccessKeyId,
        secretAccessKeyEnv: SecretEnv.s3SecretAccessKey,
      },
    },
    restore: {
      drillHost: 'host1',
      scratchDirectory: `${layout.stateDir}/scratch`,
      // The guide's manual restore check: "SELECT count(*) FROM workflows" must find rows.
      assertions: [{ database: 'tego_engine', sql: 'SELECT count(*) > 0 FROM workflows' }],
    },
    // The sandbox's own registry: deploys pull from it an image a host lacks.
    registries: [{ address: registryAddress(layout) }],
    loadBalancer: {
      host: 'host1',
      address: '127.0.0.1',
      configFile: nginx.siteConfig,
      testCommand: ['nginx', '-t', '-q', '-p', nginx.prefix, '-c', nginx.mainConfig],
      reloadCommand: ['nginx', '-s', 'reload', '-p', nginx.prefix, '-c', nginx.mainConfig],
      frontends: sandboxServices.map((svc, i) => ({ service: svc.name, listen: ports.frontendBase + i })),
      accessLog: `${nginx.prefix}/tego-access.log`,
    },
    alerts: {
      // The guide's priorities and order of notification, with minutes shortened to seconds so a test
      // sees an escalation.
      routes: [
        { priority: 'P0', notifyWithin: '0s', escalateAfter: '15s', repeatEvery: '10m' },
        { priority: 'P1', notifyWithin: '0s', escalateAfter: '15s', repeatEvery: '10m' },
        { priority: 'P2', notifyWithin: '2s', escalateAfter: '5m', repeatEvery: '20s' },
        { priority: 'P3', notifyWithin: '5s', escalateAfter: '5m', repeatEvery: '30m', channels: ['email'] },
      ],
      contacts: [
        { name: 'oncall-primary', email: 'oncall-primary@tego.example', mention: '@oncall-primary' },
        { name: 'oncall-secondary', email: 'oncall-secondary@tego.example', mention: '@oncall-secondary' },
        { name: 'ops-lead', email: 'ops-lead@tego.example', mention: '@ops-lead' },
      ],
      webhookUrlEnv: SecretEnv.alertWebhookUrl,
      email: { smtpHost: '127.0.0.1', smtpPort: ports.smtp, from: 'tego-ops@tego.example', to: ['ops@tego.example'] },
      // tego-os pages only (a person restarts it); the other services are restarted once by the incident.
      remediation: { restartContainers: true, restartServices: ['tego-os-server', 'tego-mcp', 'tego-llm'], failover: 'approval' },
    },
  };
}
