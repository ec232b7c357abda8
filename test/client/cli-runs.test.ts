import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import type { RunOutcome } from '../../client/follow-run';
import { payloadCodecFromEnv } from '../../client/payload-codec';
import { SecretEnv } from '../harness/sandbox-inventory';
import { tegoOps as runCli } from '../harness/cli';
import { waitUntil } from '../harness/daemon';
import { useSandbox } from '../harness/suite';

const suite = useSandbox();
const { sandbox } = suite;
const tegoOps = (...args: string[]) => runCli(sandbox, args);

describe('tego-ops start / status / approve / watch / changes', () => {
  it('starts a managed change from flags, shows what it waits for, takes an approval and follows it to the end', async () => {
    const changeId = `CHG-cli-${Date.now()}`;
    const started = await tegoOps('start', 'restart-service', '--service', 'tego-mcp', '--approval-required', '--approval-approvers', 'alice', '--change-id', changeId, '--json');
    expect(started.code).toBe(0);
    const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
    expect(workflowId).toMatch(/^restart-service-\d{8}T\d{6}Z-[0-9a-f]{6}$/);

    await waitUntil(async () => (await tegoOps('status', workflowId)).stdout.includes('approval: waiting for alice until'), 30_000, 500, 'the approval wait');
    const status = await tegoOps('status', workflowId);
    expect(status.stdout).toMatch(new RegExp(`^${workflowId}  restartServiceWorkflow  RUNNING`));
    expect(status.stdout).toContain('phase: waiting for approval by alice until');

    const stray = await tegoOps('approve', workflowId, '--by', 'mallory');
    expect(stray.code).toBe(1);
    expect(stray.stderr).toBe('not accepted: approval by mallory: mallory is not an approver (approvers: alice)\n');

    expect(await tegoOps('approve', workflowId, '--by', 'alice', '--comment', 'ok')).toMatchObject({ code: 0 });
    const watched = await tegoOps('watch', workflowId);
    expect(watched.code).toBe(0);
    const container = `${sandbox.containerNamePrefix}tego-mcp-host2-1`;
    expect(watched.stderr).toMatch(new RegExp(`✓ restart ${container} \\(\\d+\\.\\d s\\)`));
    expect(watched.stderr).toMatch(new RegExp(`✓ wait until ${container} is healthy`));
    expect(watched.stdout).toContain(`"restarted": [\n    "${container}"\n  ]`);

    const changes = await tegoOps('changes', '--change-id', changeId);
    expect(changes.code).toBe(0);
    const [header, row] = changes.stdout.trim().split('\n');
    expect(header).toMatch(/^STARTED\s+CHANGE\s+KIND\s+TARGET\s+BY\s+APPROVED BY\s+OUTCOME\s+SUMMARY$/);
    expect(row).toMatch(new RegExp(`${changeId}\\s+restart-service\\s+service:tego-mcp\\s+\\S+@\\S+\\s+alice\\s+succeeded\\s+restarted 1 of 1 instances`));
  });

  it('pauses, resumes, rejects and cancels running changes by id', async () => {
    const start = async () => {
      const started = await tegoOps('start', 'restart-service', '--service', 'tego-llm', '--approval-required', '--json');
      const { workflowId } = JSON.parse(started.stdout) as { workflowId: string };
      await waitUntil(async () => (await tegoOps('status', workflowId)).stdout.includes('approval: waiting'), 30_000, 500, 'the approval wait');
      return workflowId;
    };
    const held = await start();
    expect(await tegoOps('pause', held)).toMatchObject({ code: 0 });
    await waitUntil(async () => (await tegoOps('status', held)).stdout.includes('paused: resume with'), 30_000, 500, 'the pause to show');
    expect(await tegoOps('resume', held)).toMatchObject({ code: 0 });
    await waitUntil(async () => !(await tegoOps('status', held)).stdout.includes('paused: resume with'), 30_000, 500, 'the resume to show');
    expect(await tegoOps('reject', held, '--by', 'carol', '--comment', 'not now')).toMatchObject({ code: 0 });
    const rejected = await tegoOps('result', held);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/FAILED: ChangeRejected: change \S+ rejected by carol: not now; nothing was changed/);

    const cancelled = await start();
    expect(await tegoOps('cancel', cancelled)).toMatchObject({ code: 0, stdout: `cancellation requested for ${cancelled}\n` });
    const outcome = await tegoOps('watch', cancelled, '--json');
    expect(outcome.code).toBe(1);
    expect(JSON.parse(outcome.stdout)).toMatchObject({ status: 'CANCELLED' });
  });

  it('--wait --json follows any workflow and exits 0 only on success', async () => {
    const ok = await tegoOps('start', 'health', '--components', 'redis,storage', '--wait', '--json');
    expect(ok.code).toBe(0);
    const outcome = JSON.parse(ok.stdout) as RunOutcome;
    expect(outcome).toMatchObject({ status: 'COMPLETED', result: { overall: 'healthy' } });

    // Any workflow's steps, not only a managed change's, are followed live.
    const backup = await tegoOps('start', 'backup-config', '--hosts', 'host1', '--wait');
    expect(backup.code).toBe(0);
    expect(backup.stderr).toMatch(/✓ archive and encrypt the files of host1 \(\d+\.\d s\): [\d.]+ (B|KiB|MiB) stored \([\d.]+ (B|KiB|MiB) raw\)\n/);
    expect(backup.stderr).toMatch(/✓ write the manifest of host1-\d{8}T\d{6}Z-[0-9a-f]{6}/);

    const dir = await mkdtemp(join(tmpdir(), 'tego-cli-input-'));
    await writeFile(join(dir, 'retention.json'), JSON.stringify({ kinds: ['redis'], dryRun: false }));
    // The file gives the fields, a flag overrides one of them.
    const dry = await tegoOps('start', 'backup-retention', '--input', join(dir, 'retention.json'), '--dry-run', '--wait', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ status: 'COMPLETED', result: { dryRun: true, kinds: [{ kind: 'redis' }] } });

    const rejected = await tegoOps('start', 'restart-service', '--service', 'tego-llm', '--approval-required', '--approval-timeout', '1s', '--wait');
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/: FAILED: ChangeRejected: change \S+ not approved within 1s; nothing was changed\n$/);
    const id = /^started (\S+)/.exec(rejected.stderr)![1];
    expect(await tegoOps('result', id)).toMatchObject({ code: 1 });
  });

  it('turns off a default-true field with --no-<flag>, and a flag beats the --input file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tego-cli-input-'));
    await writeFile(join(dir, 'drill.json'), JSON.stringify({ redis: true, backupId: 'tego_engine-19990101T000000Z-000000' }));
    const drill = await tegoOps('start', 'restore-drill', '--input', join(dir, 'drill.json'), '--no-redis', '--wait', '--json');
    // Refused as an unknown backup, after the input (with redis off) reached the workflow intact.
    expect(drill.code).toBe(1);
    const outcome = JSON.parse(drill.stdout) as RunOutcome;
    expect(outcome.status).toBe('FAILED');
    expect(outcome.failure).toMatch(/^UnknownTarget: no complete PostgreSQL backup "tego_engine-19990101T000000Z-000000"/);
    const { workflowId } = outcome;
    const history = await suite.client.workflow.getHandle(workflowId).fetchHistory();
    const payloads = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads!;
    const [input] = await decodeArrayFromPayloads(suite.client.options.loadedDataConverter, payloads);
    expect(input).toEqual({ redis: false, backupId: 'tego_engine-19990101T000000Z-000000' });
  });

  it('names the bad flag value and the expected form, exits 2 and starts nothing', async () => {
    const before = await tegoOps('changes', '--json', '--limit', '1000');
    const bad = await tegoOps('start', 'restart-service', '--service', 'tego-os', '--window-start', '25:00', '--window-end', '04:00', '--approval-timeout', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('window.start: expected a 24-hour time like "02:00"');
    expect(bad.stderr).toContain('approval.timeout: expected a duration like "30m", "4h" or "2d"');
    expect(bad.stderr).toContain('approval.required:');
    const after = await tegoOps('changes', '--json', '--limit', '1000');
    expect(JSON.parse(after.stdout)).toHaveLength((JSON.parse(before.stdout) as unknown[]).length);

    const missingFile = await tegoOps('start', 'health', '--input', '/nonexistent/input.json');
    expect(missingFile.code).toBe(2);
    expect(missingFile.stderr).toMatch(/--input \/nonexistent\/input\.json: ENOENT/);
  });
});

describe('tego-ops codec-server', () => {
  it('decrypts payloads for a bearer of a token, and for nobody else', async () => {
    const server = spawn(process.execPath, [join(__dirname, '../../client/bin/tego-ops.js'), 'codec-server', '--port', '0'], {
      env: { ...process.env, TEGO_OPS_CONFIG: sandbox.inventoryPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [firstOutput] = (await once(server.stdout, 'data')) as [Buffer];
      const url = /listening on (http:\/\/\S+)/.exec(firstOutput.toString())![1];
      const codec = payloadCodecFromEnv(SecretEnv.payloadKeys, sandbox.env)!;
      const [encrypted] = await codec.encode([{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"secret":"s3cr3t"}') }]);
      const body = JSON.stringify({
        payloads: [
          {
            metadata: Object.fromEntries(Object.entries(encrypted.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
            data: Buffer.from(encrypted.data!).toString('base64'),
          },
        ],
      });
      const decode = (token?: string) =>
        fetch(`${url}/decode`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
      expect((await decode()).status).toBe(401);
      expect((await decode('not-the-token-at-all')).status).toBe(401);
      const ok = await decode(sandbox.env[SecretEnv.codecServerTokens]);
      expect(ok.status).toBe(200);
      const { payloads } = (await ok.json()) as { payloads: { data: string }[] };
      expect(Buffer.from(payloads[0].data, 'base64').toString()).toBe('{"secret":"s3cr3t"}');
    } finally {
      server.kill('SIGTERM');
      await once(server, 'exit');
    }
  });
});
