import { describe, expect, it } from 'vitest';
import type { ProbeResult } from '../../activities/probe-result';
import { evaluateAlerts, inhibitions, type AlertPolicy, type PatrolSample } from '../../workflows/alert-rules';

const up = (latencyMs = 5, detail: ProbeResult['detail'] = {}): ProbeResult => ({ status: 'up', latencyMs, detail });
const down = (reason: string): ProbeResult => ({ status: 'down', latencyMs: 0, reason, detail: {} });

const policy: AlertPolicy = {
  thresholds: {
    pgConnectionsPercent: 80,
    pgSlowQuerySeconds: 5,
    pgLockWaitSeconds: 5,
    redisMemoryPercent: 85,
    redisHitRatePercent: 80,
    redisHitRateMinLookups: 100,
    httpResponseMs: 500,
    httpErrorRatePercent: 1,
    httpErrorRateMinRequests: 50,
    queueBacklog: 1000,
  },
  priorities: {},
  remediation: { restartContainers: true, restartServices: ['api'], failover: 'approval' },
  maxLagBytes: 16 * 1024 * 1024,
};

function instance(service: string, container: string, health = up(), containerState: string | null = 'running') {
  return { service, host: 'host1', container, healthUrl: `http://127.0.0.1:1/${container}/health`, healthTimeoutMs: 2000, health, containerState };
}

function healthySample(): PatrolSample {
  return {
    postgres: [
      { node: 'pg1', role: 'primary', probe: up(3, { connections: 10, maxConnections: 100, slowQueries: 0, lockWaits: 0 }), lagBytes: null, streaming: true },
      { node: 'pg2', role: 'replica', probe: up(3, { connections: 2, maxConnections: 100, slowQueries: 0, lockWaits: 0 }), lagBytes: 0, streaming: true },
    ],
    redis: { probe: up(1, { memoryPercent: 20, usedMemoryBytes: 1, maxMemoryBytes: 5 }), lookups: 1000, hits: 990 },
    instances: [instance('web', 'web-1'), instance('web', 'web-2'), instance('api', 'api-1')],
    frontends: [{ service: 'web', probe: up() }, { service: 'api', probe: up() }],
    traffic: [{ service: 'web', requests: 1000, serverErrors: 2 }],
    hosts: [{ host: 'host1', probe: up() }],
    storage: up(),
    backups: [{ source: 'postgres://pg1/app', stale: false }],
    taskQueues: [{ name: 'ops', backlog: 3 }],
  };
}

describe('evaluateAlerts', () => {
  it('finds nothing in a healthy sample', () => {
    expect(evaluateAlerts(healthySample(), policy)).toEqual([]);
  });

  it('raises one P1 per stopped instance, keyed by rule and container, saying how to bring it back', () => {
    const sample = healthySample();
    sample.instances[0] = instance('web', 'web-1', down('container is exited'), 'exited');
    const alerts = evaluateAlerts(sample, policy);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ rule: 'app-instance-down', target: 'web-1', priority: 'P1', service: 'web', dedupKey: 'app-instance-down:web-1' });
    expect(alerts[0].description).toContain('docker start web-1');
    // web is not among the services policy lets the incident restart
    expect(alerts[0].remediation).toBeUndefined();
  });

  it('offers a restart for services the policy names, and takes the configured priority', () => {
    const sample = healthySample();
    sample.instances[2] = instance('api', 'api-1', down('HTTP 500: database unreachable'));
    const [serviceDown, instanceDown] = evaluateAlerts(sample, { ...policy, priorities: { 'app-instance-down': 'P2' } });
    expect(serviceDown).toMatchObject({ rule: 'service-down', target: 'api', priority: 'P0' });
    expect(instanceDown).toMatchObject({ rule: 'app-instance-down', priority: 'P2', remediation: { kind: 'restart-container', container: 'api-1' } });
  });

  it('a P0 on a service inhibits its lower alerts, not other services\'', () => {
    const sample = healthySample();
    sample.instances = [instance('web', 'web-1', down('refused')), instance('web', 'web-2', down('refused')), instance('api', 'api-1', up(900))];
    const alerts = evaluateAlerts(sample, policy);
    const muted = inhibitions(alerts);
    expect(alerts.map((a) => a.dedupKey)).toEqual(['service-down:web', 'app-instance-down:web-1', 'app-instance-down:web-2', 'app-slow:api-1']);
    expect([...muted]).toEqual([
      ['app-instance-down:web-1', 'service-down:web'],
      ['app-instance-down:web-2', 'service-down:web'],
    ]);
  });

  it('judges Redis memory and hit rate against the guide\'s thresholds', () => {
    const sample = healthySample();
    sample.redis = { probe: up(1, { memoryPercent: 91.2, usedMemoryBytes: 245e6, maxMemoryBytes: 268e6 }), lookups: 500, hits: 300 };
    const alerts = evaluateAlerts(sample, policy);
    expect(alerts.map((a) => [a.rule, a.priority, a.value])).toEqual([
      ['redis-memory', 'P2', 91.2],
      ['redis-hit-rate', 'P3', 60],
    ]);
    sample.redis.lookups = 50; // too few lookups to judge a rate
    sample.redis.hits = 0;
    expect(evaluateAlerts(sample, policy).map((a) => a.rule)).toEqual(['redis-memory']);
  });

  it('judges PostgreSQL: primary down is P0 with a failover remediation; connections, slow queries, lock waits, lag', () => {
    const sample = healthySample();
    sample.postgres[0].probe = down('ECONNREFUSED');
    expect(evaluateAlerts(sample, policy)).toMatchObject([{ rule: 'postgres-primary-down', priority: 'P0', remediation: { kind: 'failover', node: 'pg1' } }]);
    expect(evaluateAlerts(sample, { ...policy, remediation: { ...policy.remediation, failover: 'off' } })[0].remediation).toBeUndefined();

    const busy = healthySample();
    busy.postgres[0].probe = up(3, {
      connections: 85,
      maxConnections: 100,
      slowQueries: 2,
      longestQuerySeconds: 42,
      longestQueryPid: 7,
      longestQuery: 'SELECT pg_sleep(60)',
      lockWaits: 1,
      longestLockWaitSeconds: 9,
      longestLockWaitPid: 8,
      lockBlockers: '7',
    });
    busy.postgres[1].lagBytes = 32 * 1024 * 1024;
    const alerts = evaluateAlerts(busy, policy);
    expect(alerts.map((a) => a.dedupKey)).toEqual(['postgres-connections:pg1', 'postgres-slow-queries:pg1', 'postgres-lock-waits:pg1', 'postgres-replica-lag:pg2']);
    expect(alerts[1].description).toContain('pg_sleep(60)');
    expect(alerts[2].description).toContain('blocked by 7');
  });

  it('error rate through nginx, stale backups, queue backlog and a host without a worker', () => {
    const sample = healthySample();
    sample.traffic = [
      { service: 'web', requests: 200, serverErrors: 10 },
      { service: 'api', requests: 10, serverErrors: 10 }, // too few requests to judge
    ];
    sample.backups = [{ source: 'redis://redis', stale: true, problem: 'newest is 30 h old, over 26 h' }];
    sample.taskQueues = [{ name: 'ops', backlog: 1500 }];
    sample.hosts = [{ host: 'host1', probe: down('no worker') }];
    expect(evaluateAlerts(sample, policy).map((a) => `${a.priority} ${a.dedupKey}`)).toEqual([
      'P1 app-error-rate:web',
      'P1 docker-engine-down:host1',
      'P2 backup-stale:redis://redis',
      'P2 queue-backlog:ops',
    ]);
  });
});
