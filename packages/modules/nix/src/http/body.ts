import type { Request } from 'express';
import { PayloadTooLargeError } from '@forge/core';

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

/** The declared `Content-Length`, if any (a number; the body may still be longer or shorter). */
export function declaredLength(req: Request): number | undefined {
  const declared = Number(req.headers['content-length'] ?? NaN);
  return Number.isFinite(declared) ? declared : undefined;
}
