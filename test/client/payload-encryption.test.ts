import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, type Payload } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCodecServerTokens, startCodecServer, type CodecServer } from '../../client/codec-server';
import { EncryptedEncoding, KeyIdMetadataKey, payloadCodecFromEnv } from '../../client/payload-codec';
import type { HealthReport } from '../../workflows/health-report';
import { tegoOps } from '../harness/cli';
import { cachedBinary } from '../harness/layout';
import { SecretEnv, sandboxPayloadKeyId } from '../harness/sandbox-inventory';
import { useSandbox } from '../harness/suite';
import { uniqueId } from '../harness/temporal-client';
import { startWorkerProcess } from '../harness/worker-process';

const suite = useSandbox();
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array()).toString('utf8');

/** A value no workflow, activity or log could produce by chance: if it shows up, it leaked. */
const newMarker = () => `tego-leak-marker-${randomBytes(12).toString('hex')}`;

/**
 * Every payload of a history with where it was found (`events[3].…`), found by shape (an object with
 * `metadata.encoding`), except search attributes: the server indexes those, so they are stored in
 * clear by design, and tego-ops never puts a secret in one.
 */
function payloadsOf(node: unknown, path = 'events', found: Map<string, Payload> = new Map()): Map<string, Payload> {
  if (typeof node !== 'object' || node === null || ArrayBuffer.isView(node)) return found;
  if (Array.isArray(node)) {
    node.forEach((item, i) => payloadsOf(item, `${path}[${i}]`, found));
    return found;
  }
  const record = node as Record<string, unknown>;
  const metadata = record.metadata as Record<string, unknown> | undefined;
  if (metadata && ArrayBuffer.isView(metadata.encoding)) {
    found.set(path, record);
    return found;
  }
  for (const [key, value] of Object.entries(record)) {
    if (key !== 'searchAttributes') payloadsOf(value, `${path}.${key}`, found);
  }
  return found;
}

/**
 * What the Temporal server holds for a workflow, read by a client WITHOUT the codec: the history as
 * the UI downloads it, each payload, and each payload's data decoded as text (base64 undone).
 */
async function rawHistory(workflowId: string) {
  const raw = new Client({ connection: suite.client.connection, namespace: 'default' });
  const history = await raw.workflow.getHandle(workflowId).fetchHistory();
  const payloads = payloadsOf(history.events);
  return {
    raw,
    history,
    payloads,
    everything: [historyToJSON(history), JSON.stringify(history), ...[...payloads.values()].map((p) => text(p.data))].join('\n'),
  };
}

/**
 * Each payload's path with its encoding and key id, so a failure names the payload left in clear.
 * The one exception is the SDK's own patch markers (`patched()`): Core writes their details (the
 * patch id from the workflow code) itself, past the codec, because it reads them back on replay.
 */
function expectAllEncrypted(history: { events?: unknown[] | null }, payloads: Map<string, Payload>): void {
  const patchMarker = /^events\[(\d+)\]\.markerRecordedEventAttributes\.details\.patch-data\.payloads\[0\]$/;
  const sealed = [...payloads].filter(([path]) => {
    const match = patchMarker.exec(path);
    if (!match) return true;
    const event = history.events![Number(match[1])] as { markerRecordedEventAttributes: { markerName: string } };
    expect(event.markerRecordedEventAttributes.markerName).toBe('core_patch');
    return false;
  });
  const seen = sealed.map(([path, p]) => [path, text(p.metadata?.encoding), text(p.metadata?.[KeyIdMetadataKey])]);
  expect(seen).toEqual(sealed.map(([path]) => [path, EncryptedEncoding, sandboxPayloadKeyId]));
}

describe('payload encryption against the real Temporal server', () => {
  it("stores a workflow's input, memo, activity results and result only as ciphertext", async () => {
    const marker = newMarker();
    const workflowId = uniqueId('encrypted-health');
    // A valid input has no free text, so the marker rides in the memo, which the client encrypts too;
    // the input, the activities' arguments and results, and the report are sealed all the same.
    const handle = await suite.client.workflow.start('healthCheckWorkflow', {
      taskQueue: 'ops',
      workflowId,
      args: [{ components: ['redis', 'storage'] }],
      memo: { note: marker },
    });
    const report = (await handle.result()) as HealthReport;
    expect(report.components.map((c) => c.kind).sort()).toEqual(['redis', 'storage']);
    expect((await handle.describe()).memo).toMatchObject({ note: marker });

    const { raw, history, payloads, everything } = await rawHistory(workflowId);
    // Input, memo, several activity inputs and results, and the result: all of them sealed.
    expect(payloads.size).toBeGreaterThanOrEqual(6);
    expectAllEncrypted(history, payloads);
    expect(everything).not.toContain(marker);
    // The report's own words (its field names) exist only inside the ciphertext.
    expect(everything).not.toContain('"overall"');
    expect(everything).not.toContain('latencyMs');
    expect(everything).not.toContain('"components"');
    expect(history.events!.at(-1)!.workflowExecutionCompletedEventAttributes).toBeTruthy();
    // And a client without the keys cannot read the result at all.
    await expect(raw.workflow.getHandle(workflowId).result()).rejects.toThrow(/binary\/encrypted/);
  });

  it('keeps the input of a rejected workflow sealed, while its failure message stays readable', async () => {
    const marker = newMarker();
    const workflowId = uniqueId('encrypted-invalid');
    const handle = await suite.client.workflow.start('healthCheckWorkflow', {
      taskQueue: 'ops',
      workflowId,
      args: [{ components: ['redis'], apiToken: marker }],
    });
    const failure = await handle.result().then(
      () => {
        throw new Error('expected the workflow to reject its input');
      },
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(WorkflowFailedError);
    const cause = (failure as WorkflowFailedError).cause as ApplicationFailure;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    expect(cause.type).toBe('InvalidInput');
    // Failure details are payloads: the keyed client decodes them.
    expect(cause.details).toEqual([{ issues: [expect.stringContaining('apiToken')] }]);

    const { history, payloads, everything } = await rawHistory(workflowId);
    expectAllEncrypted(history, payloads);
    expect(everything).not.toContain(marker);
    // Failure messages are not payloads: they stay in clear (the UI shows why a run failed), which is
    // why no error message of tego-ops may quote a secret.
    const failed = history.events!.at(-1)!.workflowExecutionFailedEventAttributes;
    expect(failed?.failure?.message).toMatch(/^invalid input: .*apiToken/);
  });

  it('runs a workflow started without the codec (as the Temporal UI starts one) and seals what it writes', async () => {
    const workflowId = uniqueId('plain-start');
    const unkeyed = new Client({ connection: suite.client.connection, namespace: 'default' });
    await unkeyed.workflow.start('healthCheckWorkflow', { taskQueue: 'ops', workflowId, args: [{ components: ['storage'] }] });
    const report = (await suite.client.workflow.getHandle(workflowId).result()) as HealthReport;
    expect(report.components.map((c) => c.kind)).toEqual(['storage']);

    const { history, payloads } = await rawHistory(workflowId);
    const input = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
    expect(text(input.metadata!.encoding)).toBe('json/plain');
    payloads.delete('events[0].workflowExecutionStartedEventAttributes.input.payloads[0]');
    expectAllEncrypted(history, payloads);
  });
});

describe('codec server on the sandbox keys', () => {
  const env = { ...process.env, ...suite.sandbox.env };
  let server: CodecServer;
  let token: string;

  beforeAll(async () => {
    token = parseCodecServerTokens(env[SecretEnv.codecServerTokens]!, SecretEnv.codecServerTokens)[0];
    server = await startCodecServer({
      codec: payloadCodecFromEnv(SecretEnv.payloadKeys, env)!,
      port: 0,
      allowedOrigin: suite.sandbox.temporalUiUrl,
      tokens: [token],
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** Runs a workflow whose input holds `marker`, and returns its input as stored: encrypted. */
  async function storedInput(marker: string): Promise<temporal.api.common.v1.IPayload> {
    const workflowId = uniqueId('encrypted-codec');
    const handle = await suite.client.workflow.start('healthCheckWorkflow', {
      taskQueue: 'ops',
      workflowId,
      args: [{ components: ['redis'], ticket: marker }],
    });
    await handle.result().catch(() => undefined); // rejected for the unknown field; its input is what matters
    const { history } = await rawHistory(workflowId);
    const input = history.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
    expect(text(input.metadata!.encoding)).toBe(EncryptedEncoding);
    return input;
  }

  const asJson = (p: temporal.api.common.v1.IPayload) => ({
    metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
    data: Buffer.from(p.data ?? new Uint8Array()).toString('base64'),
  });

  it('decodes a payload from the history for a caller with the token, and refuses one without', async () => {
    const marker = newMarker();
    const body = JSON.stringify({ payloads: [asJson(await storedInput(marker))] });
    const headers = { 'content-type': 'application/json', 'x-namespace': 'default', origin: suite.sandbox.temporalUiUrl };

    const decoded = await fetch(`${server.url}/decode`, { method: 'POST', headers: { ...headers, authorization: `Bearer ${token}` }, body });
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(suite.sandbox.temporalUiUrl);
    const { payloads } = (await decoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    expect(Buffer.from(payloads[0].metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(payloads[0].data, 'base64').toString())).toEqual({ components: ['redis'], ticket: marker });

    for (const authorization of [undefined, `Bearer ${token.slice(1)}`, `Bearer ${randomBytes(24).toString('base64url')}`]) {
      const refused = await fetch(`${server.url}/decode`, {
        method: 'POST',
        headers: { ...headers, ...(authorization ? { authorization } : {}) },
        body,
      });
      expect(refused.status).toBe(401);
      expect(await refused.text()).not.toContain(marker);
    }
  });

  it('answers the UI origin’s CORS preflight without a token', async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: suite.sandbox.temporalUiUrl,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, x-namespace',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(suite.sandbox.temporalUiUrl);
    expect(res.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect(res.headers.get('access-control-allow-headers')?.split(', ').sort()).toEqual(['authorization', 'content-type', 'x-namespace']);
  });

  it('lets the Temporal CLI show a history in clear through it (--codec-endpoint, --codec-auth)', async () => {
    const marker = newMarker();
    const workflowId = uniqueId('encrypted-cli');
    await suite.client.workflow.execute('healthCheckWorkflow', {
      taskQueue: 'ops',
      workflowId,
      args: [{ components: ['storage'] }],
      memo: { note: marker },
    });
    const show = (extra: string[]) =>
      promisify(execFile)(cachedBinary('temporal'), [
        'workflow', 'describe', '--address', suite.sandbox.temporalAddress, '--namespace', 'default',
        '--workflow-id', workflowId, '--output', 'json', ...extra,
      ]);
    const withCodec = await show(['--codec-endpoint', server.url, '--codec-auth', `Bearer ${token}`]);
    expect(withCodec.stdout).toContain(marker);
    const withoutCodec = await show([]);
    expect(withoutCodec.stdout).not.toContain(marker);
  });
});

describe('without the payload keys', () => {
  const missing = 'environment variable TEGO_PAYLOAD_KEYS (named by temporal.payloadEncryption.keysEnv) is not set';

  it('a worker refuses to start rather than write clear text', async () => {
    await expect(
      startWorkerProcess(suite.sandbox, { bundlePath: suite.bundlePath, env: { [SecretEnv.payloadKeys]: '' } }),
    ).rejects.toThrow(missing);
  });

  it('the CLI says which variable to set, exits 2 like any configuration error, and starts nothing', async () => {
    const { code, stdout, stderr } = await tegoOps(suite.sandbox, ['health'], { [SecretEnv.payloadKeys]: '' });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toBe(`${missing}; it holds the payload keys as id:base64key[,id:base64key...]\n`);
  });
});
