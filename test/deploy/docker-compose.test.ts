import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const composeFile = resolve(__dirname, '../../docker-compose.yml');
const secrets = {
  TEGO_PG_PASSWORD: 'p',
  TEGO_REDIS_PASSWORD: 'r',
  TEGO_S3_ACCESS_KEY_ID: 'a',
  TEGO_S3_SECRET_ACCESS_KEY: 's',
  TEMPORAL_DB_PASSWORD: 't',
  TEGO_PAYLOAD_KEYS: 'k1:a2V5',
};

/** `docker-compose config`: Debian's docker-compose validates and resolves the file; no registry needed. */
async function composeConfig(env: Record<string, string>) {
  return promisify(execFile)('docker-compose', ['-f', composeFile, 'config'], {
    env: { PATH: process.env.PATH, ...env },
  });
}

describe('docker-compose.yml', () => {
  it('is a valid compose file with Temporal, its UI, the worker and the target stack', async () => {
    const { stdout } = await composeConfig(secrets);
    const config = parse(stdout) as { services: Record<string, { image?: string; build?: unknown }> };
    expect(Object.keys(config.services).sort()).toEqual(
      [
        'minio', 'nginx', 'postgres-master', 'postgres-slave', 'redis', 'tego-ops-worker',
        'temporal', 'temporal-db', 'temporal-search-attributes', 'temporal-ui',
      ].sort(),
    );
    expect(config.services['tego-ops-worker'].build).toBeDefined();
    expect(config.services.temporal.image).toMatch(/^temporalio\/auto-setup:/);
    expect(config.services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
  });

  it('refuses to resolve without the secrets, naming the missing one', async () => {
    const { TEGO_REDIS_PASSWORD: _omitted, ...withoutRedis } = secrets;
    await expect(composeConfig(withoutRedis)).rejects.toThrow(/set TEGO_REDIS_PASSWORD in \.env/);
  });
});
