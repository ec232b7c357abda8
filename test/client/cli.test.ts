import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidInputError, OpsClient } from '../../client/ops-client';
import { loadInventory } from '../../inventory/load';
import { tegoOps as runCli } from '../harness/cli';
import { useSandbox } from '../harness/suite';

const { sandbox } = useSandbox();
const tegoOps = (args: string[], env: NodeJS.ProcessEnv = {}) => runCli(sandbox, args, env);

describe('tego-ops health', () => {
  it('prints the report as a table and exits 0 when all is healthy', async () => {
    const { code, stdout } = await tegoOps(['health']);
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^COMPONENT\s+TARGET\s+STATUS\s+LATENCY\s+DETAIL$/);
    expect(lines.find((l) => l.startsWith('postgres ') && l.includes('pg2'))).toMatch(/\bUP\b.*role=replica.*lagBytes=\d+/);
    expect(lines.at(-1)).toMatch(/^HEALTHY: 24 up, 0 degraded, 0 down/);
  });

  it('prints JSON for scripts', async () => {
    const { code, stdout } = await tegoOps(['health', '--json', '--components', 'redis,storage']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { overall: string; components: { kind: string }[] };
    expect(report.overall).toBe('healthy');
    expect(report.components.map((c) => c.kind).sort()).toEqual(['redis', 'storage']);
  });

  it('names the bad field and exits 2, starting nothing', async () => {
    const { code, stderr, stdout } = await tegoOps(['health', '--components', 'redis,bogus']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^invalid input:\n {2}- components\[1\]: expected one of "apps"\|"loadBalancer"/);
  });

  it('lists every problem of a malformed inventory, without a stack trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tego-cli-'));
    const broken = (await readFile(sandbox.inventoryPath, 'utf8'))
      .replace('path: /api/health', 'path: 42')
      .replace('role: replica', 'role: standby');
    await writeFile(join(dir, 'ops.yaml'), broken);
    const { code, stderr } = await tegoOps(['health', '--config', join(dir, 'ops.yaml')]);
    expect(code).toBe(2);
    expect(stderr).toContain('is not a valid inventory:');
    expect(stderr).toContain('  - services[1].health.path: expected string, received number');
    expect(stderr).toContain('  - postgres.nodes[1].role: expected one of "primary"|"replica"');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('says which Temporal address it cannot reach', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tego-cli-'));
    const unreachable = (await readFile(sandbox.inventoryPath, 'utf8')).replace(sandbox.temporalAddress, '127.0.0.1:9');
    await writeFile(join(dir, 'ops.yaml'), unreachable);
    const { code, stderr } = await tegoOps(['health', '--config', join(dir, 'ops.yaml')]);
    expect(code).toBe(1);
    expect(stderr).toMatch(/^tego-ops: cannot reach the Temporal server at 127\.0\.0\.1:9/);
  });
});

describe('OpsClient', () => {
  it('runs a health check from code', async () => {
    const ops = await OpsClient.connect(await loadInventory(sandbox.inventoryPath));
    try {
      const report = await ops.checkHealth({ components: ['postgres'] });
      expect(report.components.map((c) => c.target)).toEqual(['pg1', 'pg2']);
      await expect(ops.start('health', { components: [] })).rejects.toThrow(InvalidInputError);
      await expect(ops.start('health', { components: [] })).rejects.toThrow(
        'components: Too small: expected array to have >=1 items',
      );
    } finally {
      await ops.close();
    }
  });
});

describe('tego-ops backup / backups', () => {
  it('takes a backup, then shows it as the freshest of its kind', async () => {
    const backup = await tegoOps(['backup', 'postgres', '--database', 'tego_engine']);
    expect(backup.code).toBe(0);
    expect(backup.stdout).toMatch(/^KIND\s+ID\s+SOURCE\s+STORED\s+RAW\s+SECONDS\npostgres\s+tego_engine-\d{8}T\d{6}Z-[0-9a-f]{6}\s+postgres:\/\/pg1\/tego_engine\s+[\d.]+ KiB/);
    const id = /tego_engine-\d{8}T\d{6}Z-[0-9a-f]{6}/.exec(backup.stdout)![0];

    const status = await tegoOps(['backups', 'status', '--json']);
    const kinds = JSON.parse(status.stdout) as { kinds: { kind: string; latest: { id: string } | null; stale: boolean }[] };
    expect(kinds.kinds.find((k) => k.kind === 'postgres')).toMatchObject({ latest: { id }, stale: false });
  });

  it('rejects an unknown kind before contacting anything', async () => {
    const { code, stderr } = await tegoOps(['backup', 'mongodb']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^error: command-argument value 'mongodb' is invalid for argument 'kind'\. Allowed choices are postgres, base, redis, config, all\./);
  });
});
