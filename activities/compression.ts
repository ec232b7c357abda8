import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';
import { spawnPiped } from './child-process';

export type CompressionMethod = 'zstd' | 'gzip' | 'none';

export const compressionExtension: Record<CompressionMethod, string> = { zstd: '.zst', gzip: '.gz', none: '' };

/**
 * A compressing stage for a pipeline, run as Debian's `zstd`/`gzip` so it uses its own threads
 * instead of the worker's event loop. `done` settles when the tool has exited.
 */
export function compressor(
  method: CompressionMethod,
  level: number,
  threads: number,
): { stage: Duplex; done: Promise<void>; tool: string | null } {
  if (method === 'none') return { stage: new PassThrough(), done: Promise.resolve(), tool: null };
  const args = method === 'zstd' ? [`-${level}`, `-T${threads}`, '-q', '-c'] : [`-${Math.min(level, 9)}`, '-c'];
  const { child, exited } = spawnPiped(method, args);
  return { stage: duplexOf(child.stdin, child.stdout), done: exited, tool: method };
}

/** Undoes `compressor`. */
export function decompressor(method: CompressionMethod): { stage: Duplex; done: Promise<void> } {
  if (method === 'none') return { stage: new PassThrough(), done: Promise.resolve() };
  const { child, exited } = spawnPiped(method, ['-d', '-c', '-q']);
  return { stage: duplexOf(child.stdin, child.stdout), done: exited };
}

function duplexOf(input: Writable, output: Readable): Duplex {
  return Duplex.from({ writable: input, readable: output });
}
