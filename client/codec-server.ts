import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Payload, PayloadCodec } from '@temporalio/common';

/**
 * The remote codec server of the Temporal UI ("codec endpoint") and CLI (`--codec-endpoint`): with
 * payloads encrypted, the Temporal server stores only ciphertext, so the people who may read a
 * workflow's inputs and results do it through this server, which holds the keys.
 *
 * Protocol (the Temporal codec server protocol): POST .../encode and POST .../decode, body and
 * answer `{"payloads": [{"metadata": {"<key>": "<base64>"}, "data": "<base64>"}]}` (Payloads as
 * protobuf JSON); only the last path segment counts, so it can be mounted under any prefix.
 * Every request needs `Authorization: Bearer <token>`, except CORS preflights, which browsers send
 * without credentials.
 */

export interface CodecServerOptions {
  /** Usually the AesGcmPayloadCodec of client/payload-codec.ts. */
  codec: PayloadCodec;
  /** 0 picks a free port (see `url`). */
  port: number;
  /** @default '127.0.0.1' */
  host?: string;
  /**
   * The Temporal UI's origin (scheme://host:port), the only one browsers may call from, e.g.
   * `http://127.0.0.1:8233`.
   */
  allowedOrigin: string;
  /** Accepted bearer tokens; at least one. Several allow rotating a token without downtime. */
  tokens: readonly string[];
  /** Largest request body accepted. @default 16 MiB */
  maxBodyBytes?: number;
}

export interface CodecServer {
  /** Base URL to give the UI (`--ui-codec-endpoint`) or the CLI (`--codec-endpoint`). */
  url: string;
  close(): Promise<void>;
}

const minTokenLength = 16;
const corsHeaders = {
  'Access-Control-Allow-Methods': 'POST, OPTIONS',
  'Access-Control-Allow-Headers': 'content-type, authorization, x-namespace',
  'Access-Control-Max-Age': '600',
};
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A request the server refuses, with the status and a message for the caller. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

/**
 * Starts the codec server and resolves once it listens.
 * @throws Error before listening when no token is given, a token is shorter than 16 characters, or
 *   `allowedOrigin` is not an origin
 *
 * @example
 * const server = await startCodecServer({
 *   codec, port: 8888, allowedOrigin: 'http://127.0.0.1:8233', tokens: [process.env.TEGO_CODEC_TOKENS!],
 * });
 * // temporal workflow show -w <id> --codec-endpoint ${server.url} --codec-auth "Bearer <token>"
 */
export async function startCodecServer(options: CodecServerOptions): Promise<CodecServer> {
  const { codec, allowedOrigin } = options;
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  checkOrigin(allowedOrigin);
  const tokenDigests = checkTokens(options.tokens).map(digest);

  const server = createServer((req, res) => {
    res.setHeader('Access-Control-Allow-Origin', allowedOrigin);
    res.setHeader('Vary', 'Origin');
    handle(req, res).catch((err: unknown) => {
      const known = err instanceof HttpError;
      // Codec errors name key ids and payload positions, never key material, so the caller may see them.
      const status = known ? err.status : 500;
      const message = known ? err.message : 'internal error';
      if (!res.headersSent) {
        res.writeHead(status, { 'Content-Type': 'application/json', ...(known ? err.headers : {}) });
        res.end(JSON.stringify({ error: message }));
      } else {
        res.destroy();
      }
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'OPTIONS') {
      res.writeHead(204, corsHeaders);
      res.end();
      return;
    }
    const operation = lastPathSegment(req.url ?? '/');
    if (operation !== 'encode' && operation !== 'decode') {
      throw new HttpError(404, 'not found: POST .../encode or .../decode');
    }
    if (req.method !== 'POST') throw new HttpError(405, `${req.method} not allowed: use POST`, { Allow: 'POST, OPTIONS' });
    if (!authorized(req.headers.authorization, tokenDigests)) {
      req.resume(); // discard the body unread
      throw new HttpError(401, 'missing or wrong bearer token', { 'WWW-Authenticate': 'Bearer realm="tego-ops codec"' });
    }
    const payloads = parseBody(await readBody(req, maxBodyBytes));
    let result: Payload[];
    try {
      result = operation === 'encode' ? await codec.encode(payloads) : await codec.decode(payloads);
    } catch (err) {
      throw new HttpError(400, `cannot ${operation}: ${(err as Error).message}`);
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ payloads: result.map(payloadToJson) }));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/**
 * Splits a token list `token1,token2` (as held in the variable `temporal.payloadEncryption.codecServerTokensEnv` names).
 * @throws Error naming the variable and the entry's position (never the token) when one is empty or short
 */
export function parseCodecServerTokens(text: string, source: string): string[] {
  const tokens = text.split(',').map((t) => t.trim());
  try {
    return checkTokens(tokens);
  } catch (err) {
    throw new Error(`${source}: ${(err as Error).message}`);
  }
}

function checkTokens(tokens: readonly string[]): string[] {
  if (tokens.length === 0) throw new Error('no bearer token given: the codec server refuses to run without one');
  tokens.forEach((token, i) => {
    if (token.length < minTokenLength) {
      throw new Error(
        `bearer token ${i + 1} is ${token.length} characters; use at least ${minTokenLength} (e.g. openssl rand -base64 24)`,
      );
    }
  });
  return [...tokens];
}

function checkOrigin(origin: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(origin);
  } catch {
    parsed = undefined;
  }
  if (!parsed || parsed.origin !== origin) {
    throw new Error(`allowedOrigin must be an origin like http://127.0.0.1:8233 (scheme://host[:port], no path), got "${origin}"`);
  }
}

/** SHA-256 first, so the comparison below takes the same time whatever the lengths. */
function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

function authorized(header: string | undefined, tokenDigests: readonly Buffer[]): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  const presented = digest(match?.[1] ?? '');
  // Every token is compared, matched or not, so timing does not tell which one (or whether any) matched.
  let ok = false;
  for (const expected of tokenDigests) ok = timingSafeEqual(presented, expected) || ok;
  return ok && match !== null;
}

function lastPathSegment(url: string): string {
  const path = url.split('?')[0].replace(/\/+$/, '');
  return path.slice(path.lastIndexOf('/') + 1);
}

async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new HttpError(413, `request body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads `{payloads: [...]}` in protobuf JSON; says which payload and field is wrong. */
function parseBody(body: Buffer): Payload[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HttpError(400, 'body is not JSON: expected {"payloads": [...]}');
  }
  const payloads = (parsed as { payloads?: unknown } | null)?.payloads;
  if (!Array.isArray(payloads)) throw new HttpError(400, 'body has no "payloads" array: expected {"payloads": [...]}');
  return payloads.map((raw, i) => payloadFromJson(raw, `payloads[${i}]`));
}

function payloadFromJson(raw: unknown, where: string): Payload {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new HttpError(400, `${where} is not an object`);
  const { metadata, data } = raw as { metadata?: unknown; data?: unknown };
  const bytes = (value: unknown, field: string): Buffer => {
    if (typeof value !== 'string' || !base64Pattern.test(value)) throw new HttpError(400, `${where}.${field} is not base64`);
    return Buffer.from(value, 'base64');
  };
  if (metadata !== undefined && metadata !== null && (typeof metadata !== 'object' || Array.isArray(metadata))) {
    throw new HttpError(400, `${where}.metadata is not an object`);
  }
  return {
    metadata: Object.fromEntries(
      Object.entries((metadata ?? {}) as Record<string, unknown>).map(([k, v]) => [k, bytes(v, `metadata.${k}`)]),
    ),
    data: data === undefined || data === null ? new Uint8Array() : bytes(data, 'data'),
  };
}

function payloadToJson(payload: Payload): { metadata: Record<string, string>; data?: string } {
  const metadata = Object.fromEntries(
    Object.entries(payload.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  // Protobuf JSON leaves empty bytes out.
  return payload.data && payload.data.length > 0 ? { metadata, data: Buffer.from(payload.data).toString('base64') } : { metadata };
}
