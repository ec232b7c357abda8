import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCodecServerTokens, startCodecServer, type CodecServer } from '../../client/codec-server';
import { AesGcmPayloadCodec, EncryptedEncoding, parsePayloadKeys } from '../../client/payload-codec';

const uiOrigin = 'http://127.0.0.1:8233';
const tokens = [randomBytes(24).toString('base64url'), randomBytes(24).toString('base64url')];
const codec = new AesGcmPayloadCodec(parsePayloadKeys(`k1:${randomBytes(32).toString('base64')}`, 'TEGO_PAYLOAD_KEYS'), 'TEGO_PAYLOAD_KEYS');
const b64 = (s: string) => Buffer.from(s).toString('base64');

interface JsonPayload {
  metadata: Record<string, string>;
  data?: string;
}

let server: CodecServer;
beforeAll(async () => {
  server = await startCodecServer({ codec, port: 0, allowedOrigin: uiOrigin, tokens });
});
afterAll(async () => {
  await server?.close();
});

/** `token` null sends no Authorization header at all. */
function post(path: string, body: unknown, token: string | null = tokens[0]) {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-namespace': 'default', ...(token !== null ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

describe('codec server', () => {
  it('encodes and decodes payloads in the protobuf JSON the UI sends, under any path prefix', async () => {
    const plain: JsonPayload = { metadata: { encoding: b64('json/plain') }, data: b64('{"password":"s3cret"}') };
    const encoded = await post('/encode', { payloads: [plain] });
    expect(encoded.status).toBe(200);
    expect(encoded.headers.get('content-type')).toBe('application/json');
    const { payloads: sealed } = (await encoded.json()) as { payloads: JsonPayload[] };
    expect(Buffer.from(sealed[0].metadata.encoding, 'base64').toString()).toBe(EncryptedEncoding);
    expect(Buffer.from(sealed[0].data!, 'base64').toString()).not.toContain('s3cret');

    // The second token works as well as the first; the path may carry a prefix (one codec per namespace).
    const decoded = await post('/default/decode', { payloads: sealed }, tokens[1]);
    expect(decoded.status).toBe(200);
    expect(await decoded.json()).toEqual({ payloads: [plain] });
  });

  it('refuses requests without, or with a wrong, bearer token', async () => {
    const body = { payloads: [] };
    for (const token of [null, '', 'not-the-token-at-all', `${tokens[0]}x`]) {
      const res = await post('/decode', body, token);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer realm="tego-ops codec"');
      expect(res.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    }
    const basic = await fetch(`${server.url}/decode`, {
      method: 'POST',
      headers: { authorization: `Basic ${b64(`user:${tokens[0]}`)}` },
      body: '{"payloads":[]}',
    });
    expect(basic.status).toBe(401);
  });

  it('answers CORS preflights without a token, for the UI origin only', async () => {
    const res = await fetch(`${server.url}/decode`, {
      method: 'OPTIONS',
      headers: { origin: uiOrigin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type,x-namespace' },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe(uiOrigin);
    expect(res.headers.get('access-control-allow-headers')).toBe('content-type, authorization, x-namespace');
    expect(res.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
  });

  it('says what is wrong with a bad request', async () => {
    const error = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: string }) });
    expect(await error(await post('/decode', 'not json'))).toEqual({ status: 400, error: 'body is not JSON: expected {"payloads": [...]}' });
    expect(await error(await post('/decode', { items: [] }))).toEqual({
      status: 400,
      error: 'body has no "payloads" array: expected {"payloads": [...]}',
    });
    expect(await error(await post('/decode', { payloads: [{ metadata: { encoding: 'json/plain!' } }] }))).toEqual({
      status: 400,
      error: 'payloads[0].metadata.encoding is not base64',
    });
    const foreign = { metadata: { encoding: b64(EncryptedEncoding), 'encryption-key-id': b64('elsewhere') }, data: b64('x'.repeat(40)) };
    expect(await error(await post('/decode', { payloads: [foreign] }))).toEqual({
      status: 400,
      error:
        'cannot decode: payload was encrypted with key id "elsewhere", which TEGO_PAYLOAD_KEYS does not hold ' +
        '(it holds: k1); add that key to TEGO_PAYLOAD_KEYS to read it',
    });
    expect((await post('/other', { payloads: [] })).status).toBe(404);
    expect((await fetch(`${server.url}/decode`, { headers: { authorization: `Bearer ${tokens[0]}` } })).status).toBe(405);
  });

  it('decodes what a client encoded through the SDK converter', async () => {
    const [sealed] = await codec.encode([defaultPayloadConverter.toPayload({ components: ['redis'] })]);
    const res = await post('/decode', {
      payloads: [{ metadata: Object.fromEntries(Object.entries(sealed.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')])), data: Buffer.from(sealed.data!).toString('base64') }],
    });
    const { payloads } = (await res.json()) as { payloads: JsonPayload[] };
    expect(JSON.parse(Buffer.from(payloads[0].data!, 'base64').toString())).toEqual({ components: ['redis'] });
  });
});

describe('codec server configuration', () => {
  it('refuses to start without a usable token or with a bad origin', async () => {
    await expect(startCodecServer({ codec, port: 0, allowedOrigin: uiOrigin, tokens: [] })).rejects.toThrow(
      'no bearer token given: the codec server refuses to run without one',
    );
    await expect(startCodecServer({ codec, port: 0, allowedOrigin: uiOrigin, tokens: ['short'] })).rejects.toThrow(
      'bearer token 1 is 5 characters; use at least 16',
    );
    await expect(startCodecServer({ codec, port: 0, allowedOrigin: 'http://127.0.0.1:8233/ui', tokens })).rejects.toThrow(
      'allowedOrigin must be an origin like http://127.0.0.1:8233',
    );
  });

  it('reads comma-separated tokens, naming the variable and the position of a bad one', () => {
    expect(parseCodecServerTokens(` ${tokens[0]},${tokens[1]} `, 'TEGO_CODEC_TOKENS')).toEqual(tokens);
    expect(() => parseCodecServerTokens(`${tokens[0]},`, 'TEGO_CODEC_TOKENS')).toThrow(
      'TEGO_CODEC_TOKENS: bearer token 2 is 0 characters; use at least 16',
    );
  });
});
