import { z } from 'zod';
import { alertRuleIds } from '../workflows/alert-rules';

/**
 * The inventory (`ops.yaml`): the single description of the infrastructure tego-ops operates.
 * Pure module (no Node built-ins) so workflows may import its types and helpers.
 * Secrets never appear here: fields ending in `Env` name the environment variable that holds them.
 */

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]*$/, 'expected a lower-case name of letters, digits and dashes');
const port = z.number().int().min(1).max(65535);
const envVarName = z
  .string()
  .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected the NAME of an environment variable (A-Z, 0-9, _)');
const absolutePath = z.string().startsWith('/', 'expected an absolute path');

export const DockerEndpointSchema = z
  .object({
    /** Unix socket of the host's Docker engine. */
    socketPath: absolutePath.optional(),
    /** Or a TCP endpoint. */
    host: z.string().optional(),
    port: port.optional(),
    protocol: z.enum(['http', 'https']).optional(),
  })
  .strict()
  .refine((d) => Boolean(d.socketPath) !== Boolean(d.host), {
    message: 'expected exactly one of socketPath or host',
  });

export const HostSchema = z
  .object({
    name,
    /** Address at which this host's published ports are reached from the worker. */
    address: z.string().min(1),
    docker: DockerEndpointSchema,
    /** Task queue of the worker running on this host. @default `ops@<name>` */
    taskQueue: z.string().min(1).optional(),
  })
  .strict();

/** A registry images may be pulled from when a host does not have them. */
export const RegistrySchema = z
  .object({
    /** The registry part of image names, e.g. `registry.internal` or `registry.internal:5000`. */
    address: z.string().min(1),
    usernameEnv: envVarName.optional(),
    passwordEnv: envVarName.optional(),
  })
  .strict();

export const PlacementSchema = z
  .object({
    host: name,
    /** One instance per host port; the count of ports is the instance count on this host. */
    ports: z.array(port).min(1),
  })
  .strict();

export const ServiceSchema = z
  .object({
    name,
    image: z.string().min(1),
    /** Port the app listens on inside its container. */
    port,
    /**
     * `bridge` publishes `port` on each instance's host port; `host` shares the host's network, so the
     * instance listens on its host port directly (told through the PORT variable).
     * @default 'bridge'
     */
    network: z.enum(['bridge', 'host']).default('bridge'),
    health: z
      .object({
        path: z.string().startsWith('/', 'expected a path starting with /'),
        timeoutMs: z.number().int().positive().default(2000),
      })
      .strict(),
    env: z.record(z.string(), z.string()).default({}),
    /** Variables whose values come from the worker's environment: container variable → env var name. */
    secretEnv: z.record(z.string(), envVarName).default({}),
    /** Whether the service writes to PostgreSQL (stopped or repointed during DB work). @default false */
    usesDatabase: z.boolean().default(false),
    placement: z.array(PlacementSchema).min(1),
  })
  .strict();

export const PostgresNodeSchema = z
  .object({
    name,
    host: name,
    address: z.string().min(1),
    port: port.default(5432),
    role: z.enum(['primary', 'replica']),
    /** Data directory on the host, when the server runs outside Docker. */
    dataDirectory: absolutePath.optional(),
    /** Container name, when the server runs in Docker. */
    container: z.string().optional(),
    /**
     * The server's log file on its host (pg_ctl -l, or logging_collector's current file), where the daily
     * inspection counts failed logins. Lines must start with log_line_prefix's `%m` timestamp (the default).
     */
    logFile: absolutePath.optional(),
    /**
     * Set by a failover on the primary it replaced: the node is out of service (stopped, and made to
     * start read-only) until it is rejoined as a replica. @default false
     */
    fenced: z.boolean().default(false),
  })
  .strict();

/** Environment variables through which apps that use the database are told where the primary is. */
export const DatabaseClientEnvSchema = z
  .object({
    host: envVarName.default('POSTGRES_HOST'),
    port: envVarName.default('POSTGRES_PORT'),
  })
  .strict();

export const PostgresSchema = z
  .object({
    user: z.string().min(1),
    passwordEnv: envVarName,
    /** Database used for probes. */
    database: z.string().min(1),
    /**
     * Database holding tego-ops's own tables (the change log), apart from the platform's, so restoring
     * those never rewinds it; created on first use. @default 'tego_ops'
     */
    opsDatabase: z.string().min(1).default('tego_ops'),
    /** Databases the backups cover. @default [database] */
    databases: z.array(z.string().min(1)).optional(),
    /** Replication lag beyond which a replica counts as behind (bytes). @default 16 MiB */
    maxLagBytes: z.number().int().nonnegative().default(16 * 1024 * 1024),
    /**
     * Set on every container of a `usesDatabase` service to the primary's address and port, so a
     * switchover or failover repoints the apps by recreating their containers.
     * @default { host: POSTGRES_HOST, port: POSTGRES_PORT }
     */
    clientEnv: DatabaseClientEnvSchema.default({ host: 'POSTGRES_HOST', port: 'POSTGRES_PORT' }),
    nodes: z.array(PostgresNodeSchema).min(1),
  })
  .strict();

export const RedisSchema = z
  .object({
    host: name,
    address: z.string().min(1),
    port: port.default(6379),
    passwordEnv: envVarName.optional(),
    container: z.string().optional(),
    dataDirectory: absolutePath.optional(),
  })
  .strict();

export const StorageSchema = z
  .object({
    endpoint: z.url().optional(),
    region: z.string().default('us-east-1'),
    bucket: z.string().min(3),
    prefix: z.string().default(''),
    forcePathStyle: z.boolean().default(true),
    accessKeyIdEnv: envVarName,
    secretAccessKeyEnv: envVarName,
  })
  .strict();

export const FrontendSchema = z
  .object({
    service: name,
    /** Port nginx listens on for this service. */
    listen: port,
  })
  .strict();

export const LoadBalancerSchema = z
  .object({
    host: name,
    address: z.string().min(1),
    /** The file tego-ops renders; nginx must include it. */
    configFile: absolutePath,
    /**
     * Command that tests nginx's whole configuration, run with the candidate rendered into `configFile`
     * (e.g. `nginx -t -q`); `{config}` is replaced by that file's path. Fails → the previous file is put back.
     */
    testCommand: z.array(z.string()).min(1),
    reloadCommand: z.array(z.string()).min(1),
    frontends: z.array(FrontendSchema).min(1),
    /**
     * Where the frontends log each request as JSON (status, upstream, port), read on the load balancer's
     * host by the patrol (error rates) and the daily inspection (401/403). Without it neither is measured.
     */
    accessLog: absolutePath.optional(),
  })
  .strict();

/** How long backups of one kind are kept: by age and by count, never below a floor. */
export const RetentionRuleSchema = z
  .object({
    /** Delete complete backups older than this many days. */
    days: z.number().positive().optional(),
    /** Keep at most this many complete backups. */
    maxCount: z.number().int().positive().optional(),
    /** Always keep at least this many complete backups, whatever their age (minimum redundancy). */
    minCount: z.number().int().min(1).default(1),
  })
  .strict();

export type RetentionRule = z.infer<typeof RetentionRuleSchema>;

export const BackupSchema = z
  .object({
    /** Where backups live inside the bucket (after storage.prefix). @default 'backups/' */
    prefix: z.string().default('backups/'),
    compression: z
      .object({
        /** zstd is several times faster than the guide's gzip at a similar ratio. @default zstd */
        method: z.enum(['zstd', 'gzip', 'none']).default('zstd'),
        level: z.number().int().min(1).max(19).default(3),
        /** Compression threads (zstd only); 0 means one per core. @default 2 */
        threads: z.number().int().min(0).default(2),
      })
      .strict()
      .default({ method: 'zstd', level: 3, threads: 2 }),
    /** The guide's 备份策略: full 30 days, WAL ("incremental") 7 days, config 90 days. */
    retention: z
      .object({
        postgres: RetentionRuleSchema.default({ days: 30, minCount: 3 }),
        basebackup: RetentionRuleSchema.default({ days: 7, minCount: 2 }),
        redis: RetentionRuleSchema.default({ days: 30, minCount: 3 }),
        config: RetentionRuleSchema.default({ days: 90, minCount: 3 }),
        /** Leftovers of failed attempts (objects without a manifest) older than this are removed. */
        incompleteGraceHours: z.number().positive().default(24),
      })
      .strict()
      .default({
        postgres: { days: 30, minCount: 3 },
        basebackup: { days: 7, minCount: 2 },
        redis: { days: 30, minCount: 3 },
        config: { days: 90, minCount: 3 },
        incompleteGraceHours: 24,
      }),
    /**
     * Continuous WAL archiving for point-in-time recovery: pg_receivewal on the primary's host
     * streams through a replication slot into a staging directory there; completed segments are
     * uploaded and then removed. The slot keeps the primary from recycling WAL not yet received.
     */
    walArchive: z
      .object({
        enabled: z.boolean().default(false),
        slot: z.string().regex(/^[a-z0-9_]+$/, 'expected a replication slot name (a-z, 0-9, _)').default('tego_wal_archive'),
        /** Durable directory on the primary's host; segments wait here until uploaded. */
        stagingDirectory: absolutePath.default('/var/lib/tego-ops/wal'),
      })
      .strict()
      .default({ enabled: false, slot: 'tego_wal_archive', stagingDirectory: '/var/lib/tego-ops/wal' }),
    /** A second bucket, elsewhere, that completed backups are copied to (the guide's 异地备份). */
    offsite: StorageSchema.optional(),
    /** A backup older than this is flagged by the freshness report. */
    maxAgeHours: z.number().positive().default(26),
    /** Files archived by the config backup, per host (compose files, .env, nginx config). */
    configPaths: z
      .array(z.object({ host: name, paths: z.array(absolutePath).min(1) }).strict())
      .default([]),
    /**
     * Key for config archives, which hold secrets (.env): AES-256-GCM, 32 bytes as base64 or hex in
     * the named variable. The key id goes into each manifest, so keys can be rotated.
     */
    encryption: z.object({ keyEnv: envVarName, keyId: z.string().min(1) }).strict().optional(),
  })
  .strict();

const Priority = z.enum(['P0', 'P1', 'P2', 'P3']);
const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'expected a duration like 30s, 5m, 1h');

/** The guide's alert thresholds (服务监控管理 / 关键监控指标). */
export const ThresholdsSchema = z
  .object({
    pgConnectionsPercent: z.number().default(80),
    pgSlowQuerySeconds: z.number().default(5),
    /** A backend waiting on a lock this long is a lock wait worth an alert. */
    pgLockWaitSeconds: z.number().default(5),
    redisMemoryPercent: z.number().default(85),
    redisHitRatePercent: z.number().default(80),
    /** Below this many lookups between two patrols the hit rate says nothing and is not judged. */
    redisHitRateMinLookups: z.number().int().default(100),
    httpResponseMs: z.number().default(500),
    httpErrorRatePercent: z.number().default(1),
    /** Below this many requests between two patrols an error rate is not judged. */
    httpErrorRateMinRequests: z.number().int().default(50),
    /** Workflow or activity tasks waiting on one task queue: workers are missing or stuck. */
    queueBacklog: z.number().default(1000),
  })
  .strict();

/** The guide's notification timings (告警通知): P0/P1 at once, P2 within 5 minutes, P3 within 15 minutes. */
const guideRoutes = [
  { priority: 'P0', notifyWithin: '0s', escalateAfter: '5m', repeatEvery: '5m' },
  { priority: 'P1', notifyWithin: '0s', escalateAfter: '15m', repeatEvery: '15m' },
  { priority: 'P2', notifyWithin: '5m', escalateAfter: '1h', repeatEvery: '1h' },
  { priority: 'P3', notifyWithin: '15m', escalateAfter: '4h', repeatEvery: '4h' },
] as const;

export const AlertRouteSchema = z
  .object({
    priority: Priority,
    /**
     * How long an alert may fire before anyone is told: one that clears sooner (a container restarted by
     * the remediation, a blip) notifies no one. The guide: P0/P1 at once, P2 within 5m, P3 within 15m.
     */
    notifyWithin: duration.default('0s'),
    /** Unacknowledged this long, the incident pages the next contact of the escalation chain. */
    escalateAfter: duration.default('15m'),
    /** Unacknowledged and still firing, the current contact is reminded this often. */
    repeatEvery: duration.default('1h'),
    /** @default every configured channel */
    channels: z.array(z.enum(['webhook', 'email'])).min(1).optional(),
  })
  .strict();

/** A person or rota of the escalation chain, paged in order until someone acknowledges. */
export const ContactSchema = z
  .object({
    name: z.string().min(1),
    email: z.string().min(3).optional(),
    /** How the chat webhook should mention them, e.g. `<@U024BE7LH>` for Slack. */
    mention: z.string().min(1).optional(),
  })
  .strict();

export const AlertsSchema = z
  .object({
    thresholds: ThresholdsSchema.default(ThresholdsSchema.parse({})),
    /** One route per priority; priorities without one use the guide's timings. */
    routes: z.array(AlertRouteSchema).default([...guideRoutes]),
    /** The escalation chain, first contact first. Without one, notifications go to `email.to` only. */
    contacts: z.array(ContactSchema).default([]),
    /** Variable holding a Slack-compatible incoming-webhook URL (it carries a token: never inline). */
    webhookUrlEnv: envVarName.optional(),
    email: z
      .object({
        smtpHost: z.string(),
        smtpPort: port,
        from: z.string(),
        to: z.array(z.string()).min(1),
        /** TLS from the first byte (port 465); otherwise STARTTLS when the server offers it. @default false */
        secure: z.boolean().default(false),
        usernameEnv: envVarName.optional(),
        passwordEnv: envVarName.optional(),
      })
      .strict()
      .optional(),
    /** A rule's priority when it should differ from its default, e.g. `{ app-instance-down: P0 }`. */
    priorities: z.record(z.string(), Priority).default({}),
    /** What an incident may fix by itself before (or while) it pages people. */
    remediation: z
      .object({
        /** Restart a stopped or unhealthy app container once, then re-check its health. */
        restartContainers: z.boolean().default(true),
        /** Only these services' containers are restarted. @default all services */
        restartServices: z.array(name).optional(),
        /**
         * Primary database down: `approval` starts the failover workflow waiting for a person's approval,
         * `automatic` starts it approved, `off` only pages. @default 'approval'
         */
        failover: z.enum(['off', 'approval', 'automatic']).default('approval'),
      })
      .strict()
      .default({ restartContainers: true, failover: 'approval' }),
    /** How often the patrol looks at everything. @default '30s' (the guide's 监控频率) */
    patrolEvery: duration.default('30s'),
  })
  .strict();

export const TemporalSchema = z
  .object({
    address: z.string().default('127.0.0.1:7233'),
    namespace: z.string().default('default'),
    /** The shared task queue: workflows and activities that need no particular host. */
    taskQueue: z.string().default('ops'),
    /**
     * Encrypts every payload (inputs, results, activity arguments, heartbeats, memos) before it
     * reaches the Temporal server, with AES-256-GCM (client/payload-codec.ts). Worker and client
     * both need the keys. Off when absent.
     */
    payloadEncryption: z
      .object({
        /**
         * Variable holding the keys as `id:base64key[,id:base64key...]` (32-byte keys): the LAST one
         * encrypts, all of them decrypt, so a key is rotated by appending a new one.
         */
        keysEnv: envVarName,
        /** Variable holding the bearer token(s) of the codec server the Temporal UI and CLI use, comma-separated. */
        codecServerTokensEnv: envVarName.optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** Restores and restore drills (备份恢复演练): where scratch copies are started and what proves them good. */
export const RestoreSchema = z
  .object({
    /** Host whose worker runs drills: scratch PostgreSQL and Redis start there. @default the PostgreSQL primary's host */
    drillHost: name.optional(),
    /** Where scratch instances live during a drill; each drill's directory is removed afterwards. */
    scratchDirectory: absolutePath.default('/var/lib/tego-ops/scratch'),
    /** OS user the scratch servers run as when the worker is root (PostgreSQL refuses to run as root). */
    runAs: z.string().min(1).default('postgres'),
    /** PostgreSQL server binaries; `{major}` is the backup's major version. */
    postgresBinDirectory: z.string().min(1).default('/usr/lib/postgresql/{major}/bin'),
    /** SQL that must return true on a restored database, e.g. `SELECT count(*) > 0 FROM workflows`. */
    assertions: z
      .array(z.object({ database: z.string().min(1).optional(), sql: z.string().min(1) }).strict())
      .default([]),
    /** Flag the freshness report when the last successful drill is older than this. @default 35 */
    maxDrillAgeDays: z.number().positive().default(35),
  })
  .strict();

export const InventorySchema = z
  .object({
    temporal: TemporalSchema.default(TemporalSchema.parse({})),
    /**
     * Prepended to every container name tego-ops gives (`<prefix><service>-<host>-<n>`), so two
     * environments can share one Docker engine. @default ''
     */
    containerNamePrefix: z
      .string()
      .regex(/^([a-z0-9][a-z0-9-]*-)?$/, 'expected empty, or lower-case letters, digits and dashes ending in -')
      .default(''),
    hosts: z.array(HostSchema).min(1),
    services: z.array(ServiceSchema).default([]),
    postgres: PostgresSchema.optional(),
    redis: RedisSchema.optional(),
    storage: StorageSchema.optional(),
    loadBalancer: LoadBalancerSchema.optional(),
    /** Registries images are pulled from when a host lacks them; without one, a missing image is an error. */
    registries: z.array(RegistrySchema).default([]),
    backup: BackupSchema.default(BackupSchema.parse({})),
    schedules: z
      .object({
        /** IANA time zone the schedules' clock times are in (the guide's "02:00"). @default 'UTC' */
        timeZone: z.string().default('UTC'),
        /** Daily full backup time, HH:MM. @default '02:00' (the guide's 每日凌晨2点) */
        dailyBackupAt: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM').default('02:00'),
        /** The guide's 每日检查清单, as a report, HH:MM. @default '08:30' */
        dailyInspectionAt: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM').default('08:30'),
      })
      .strict()
      .default({ timeZone: 'UTC', dailyBackupAt: '02:00', dailyInspectionAt: '08:30' }),
    alerts: AlertsSchema.default(AlertsSchema.parse({})),
    restore: RestoreSchema.default(RestoreSchema.parse({})),
  })
  .strict()
  .superRefine(checkCrossReferences);

export type Inventory = z.infer<typeof InventorySchema>;
export type Host = z.infer<typeof HostSchema>;
export type Service = z.infer<typeof ServiceSchema>;
export type PostgresNode = z.infer<typeof PostgresNodeSchema>;

/** Names must resolve: a placement's host exists, a frontend's service exists, names are unique. */
function checkCrossReferences(inv: z.infer<typeof InventorySchema>, ctx: z.RefinementCtx): void {
  const hostNames = new Set(inv.hosts.map((h) => h.name));
  const serviceNames = new Set(inv.services.map((s) => s.name));
  const unknownHost = (host: string, path: PropertyKey[]): void => {
    if (!hostNames.has(host)) {
      ctx.addIssue({ code: 'custom', path, message: `unknown host "${host}" (hosts: ${[...hostNames].join(', ')})` });
    }
  };
  reportDuplicates(inv.hosts.map((h) => h.name), ['hosts'], 'host', ctx);
  reportDuplicates(inv.services.map((s) => s.name), ['services'], 'service', ctx);

  const hostPortsSeen = new Map<string, string>();
  inv.services.forEach((service, s) =>
    service.placement.forEach((placement, p) => {
      unknownHost(placement.host, ['services', s, 'placement', p, 'host']);
      placement.ports.forEach((hostPort, i) => {
        const key = `${placement.host}:${hostPort}`;
        const owner = hostPortsSeen.get(key);
        if (owner) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', s, 'placement', p, 'ports', i],
            message: `port ${hostPort} on ${placement.host} is already used by ${owner}`,
          });
        }
        hostPortsSeen.set(key, service.name);
      });
    }),
  );

  if (inv.postgres) {
    reportDuplicates(inv.postgres.nodes.map((n) => n.name), ['postgres', 'nodes'], 'node', ctx);
    inv.postgres.nodes.forEach((node, i) => unknownHost(node.host, ['postgres', 'nodes', i, 'host']));
    const primaries = inv.postgres.nodes.filter((n) => n.role === 'primary').length;
    if (primaries !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: ['postgres', 'nodes'],
        message: `expected exactly one node with role primary, found ${primaries}`,
      });
    }
    inv.postgres.nodes.forEach((node, i) => {
      if (node.fenced && node.role === 'primary') {
        ctx.addIssue({ code: 'custom', path: ['postgres', 'nodes', i, 'fenced'], message: 'the primary cannot be fenced' });
      }
    });
    const clientEnv = Object.values(inv.postgres.clientEnv);
    inv.services.forEach((service, s) => {
      for (const variable of Object.keys(service.env)) {
        if (service.usesDatabase && clientEnv.includes(variable)) {
          ctx.addIssue({
            code: 'custom',
            path: ['services', s, 'env', variable],
            message: `${variable} is set from the primary (postgres.clientEnv) on services that use the database; remove it here`,
          });
        }
      }
    });
  }
  if (inv.redis) unknownHost(inv.redis.host, ['redis', 'host']);
  inv.backup.configPaths.forEach((entry, i) => unknownHost(entry.host, ['backup', 'configPaths', i, 'host']));
  if (inv.restore.drillHost) unknownHost(inv.restore.drillHost, ['restore', 'drillHost']);
  if (inv.backup.configPaths.length > 0 && !inv.backup.encryption) {
    ctx.addIssue({
      code: 'custom',
      path: ['backup', 'encryption'],
      message: 'config backups hold secrets (.env): set backup.encryption { keyEnv, keyId }',
    });
  }
  checkAlerts(inv, serviceNames, ctx);
  if (inv.loadBalancer) {
    unknownHost(inv.loadBalancer.host, ['loadBalancer', 'host']);
    inv.loadBalancer.frontends.forEach((frontend, i) => {
      if (!serviceNames.has(frontend.service)) {
        ctx.addIssue({
          code: 'custom',
          path: ['loadBalancer', 'frontends', i, 'service'],
          message: `unknown service "${frontend.service}" (services: ${[...serviceNames].join(', ')})`,
        });
      }
    });
  }
}

function reportDuplicates(names: string[], path: PropertyKey[], what: string, ctx: z.RefinementCtx): void {
  const seen = new Set<string>();
  names.forEach((n, i) => {
    if (seen.has(n)) ctx.addIssue({ code: 'custom', path: [...path, i, 'name'], message: `duplicate ${what} name "${n}"` });
    seen.add(n);
  });
}

/** Alert routes must be usable: one per priority, through channels that are configured, for services that exist. */
function checkAlerts(inv: z.infer<typeof InventorySchema>, serviceNames: Set<string>, ctx: z.RefinementCtx): void {
  const { alerts } = inv;
  alerts.routes.forEach((route, i) => {
    if (alerts.routes.findIndex((r) => r.priority === route.priority) !== i) {
      ctx.addIssue({ code: 'custom', path: ['alerts', 'routes', i, 'priority'], message: `a second route for ${route.priority}: one route per priority` });
    }
  });
  alerts.routes.forEach((route, i) =>
    route.channels?.forEach((channel, c) => {
      if (channel === 'webhook' ? !alerts.webhookUrlEnv : !alerts.email) {
        ctx.addIssue({
          code: 'custom',
          path: ['alerts', 'routes', i, 'channels', c],
          message: `channel ${channel} is not configured: set ${channel === 'webhook' ? 'alerts.webhookUrlEnv' : 'alerts.email'}`,
        });
      }
    }),
  );
  alerts.remediation.restartServices?.forEach((service, i) => {
    if (!serviceNames.has(service)) {
      ctx.addIssue({
        code: 'custom',
        path: ['alerts', 'remediation', 'restartServices', i],
        message: `unknown service "${service}" (services: ${[...serviceNames].join(', ')})`,
      });
    }
  });
  for (const rule of Object.keys(alerts.priorities)) {
    if (!(alertRuleIds as string[]).includes(rule)) {
      ctx.addIssue({ code: 'custom', path: ['alerts', 'priorities', rule], message: `unknown alert rule "${rule}" (rules: ${alertRuleIds.join(', ')})` });
    }
  }
}
