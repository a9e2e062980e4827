import type { Request } from 'express';
import { BadRequestError, ForgeError, PayloadTooLargeError } from '@forge/core';
import { NixFormatError, SizeLimitError } from '../format/index.js';

/** Reads a small body (narinfo, listing, JSON) into memory, refusing more than `limit` bytes. */
export async function readSmallBody(req: Request, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new PayloadTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Format errors are the uploader's mistakes: 400 with the parser's message, or 413 when
 * the data inflates past a limit.
 */
export function formatErrorToHttp(err: unknown, what: string): unknown {
  if (err instanceof SizeLimitError) return new ForgeError(413, 'payload_too_large', `${what}: ${err.message}`);
  if (err instanceof NixFormatError) return new BadRequestError(`${what}: ${err.message}`);
  return err;
}

export async function asBadRequest<T>(what: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    throw formatErrorToHttp(err, what);
  }
}

export function parseJsonBody(body: Buffer, what: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError(`${what} is not valid JSON`);
  }
}

/** One chunk as an async iterable, for staging small in-memory blobs. */
export async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
