import { describe, expect, it } from 'vitest';
import { ThresholdsSchema } from '../../inventory/schema';
import {
  formatBytes,
  judgePostgresConnections,
  judgeRedisMemory,
  judgeReplicaLag,
  judgeResponseTime,
  summarize,
  type ComponentHealth,
} from '../../workflows/health-report';

const thresholds = ThresholdsSchema.parse({});
const up = (over: Partial<ComponentHealth> = {}): ComponentHealth => ({
  kind: 'postgres',
  target: 'pg2',
  status: 'up',
  latencyMs: 10,
  detail: {},
  ...over,
});

describe('health judgements', () => {
  it('marks a slow response degraded with the numbers', () => {
    expect(judgeResponseTime(up({ latencyMs: 812 }), thresholds)).toMatchObject({
      status: 'degraded',
      reason: 'responded in 812 ms, over the 500 ms limit',
    });
    expect(judgeResponseTime(up({ latencyMs: 500 }), thresholds).status).toBe('up');
  });

  it('marks a replica over maxLagBytes degraded and records its lag', () => {
    const primary = { status: 'up' as const, replication: [{ name: 'pg2', lagBytes: 48 * 1024 * 1024 }] };
    expect(judgeReplicaLag(up(), primary, 16 * 1024 * 1024)).toMatchObject({
      status: 'degraded',
      reason: 'replication lag 48 MiB exceeds maxLagBytes 16 MiB',
      detail: { lagBytes: 48 * 1024 * 1024 },
    });
    const caughtUp = { status: 'up' as const, replication: [{ name: 'pg2', lagBytes: 0 }] };
    expect(judgeReplicaLag(up(), caughtUp, 16 * 1024 * 1024)).toMatchObject({ status: 'up', detail: { lagBytes: 0 } });
  });

  it('marks a replica the primary does not list as degraded', () => {
    expect(judgeReplicaLag(up(), { status: 'up', replication: [] }, 1)).toMatchObject({
      status: 'degraded',
      reason: 'the primary lists no replication connection from pg2',
    });
  });

  it('leaves a down replica as it is, and cannot judge lag without the primary', () => {
    const down = up({ status: 'down', reason: 'ECONNREFUSED' });
    expect(judgeReplicaLag(down, { status: 'up', replication: [] }, 1)).toBe(down);
    expect(judgeReplicaLag(up(), undefined, 1).status).toBe('up');
  });

  it("applies the guide's 80 % connection and 85 % memory limits", () => {
    expect(judgePostgresConnections(up({ detail: { connections: 90, maxConnections: 100 } }), thresholds).status).toBe('degraded');
    expect(judgePostgresConnections(up({ detail: { connections: 80, maxConnections: 100 } }), thresholds).status).toBe('up');
    expect(judgeRedisMemory(up({ detail: { memoryPercent: 91.5 } }), thresholds)).toMatchObject({
      status: 'degraded',
      reason: 'memory at 91.5 % of maxmemory, over 85 %',
    });
  });

  it('summarizes: any down is unhealthy, any degraded is degraded', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    expect(summarize([up(), up()], at)).toMatchObject({ overall: 'healthy', counts: { up: 2, degraded: 0, down: 0 } });
    expect(summarize([up(), up({ status: 'degraded' })], at).overall).toBe('degraded');
    expect(summarize([up({ status: 'degraded' }), up({ status: 'down' })], at).overall).toBe('unhealthy');
  });

  it('formats bytes for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(16 * 1024 * 1024)).toBe('16 MiB');
    expect(formatBytes(1.5 * 1024 * 1024 * 1024)).toBe('1.5 GiB');
  });
});
