import type { Request } from 'express';
import { PayloadTooLargeError, requestBody } from '@forge/core';

/**
 * A small body (narinfo, nix-cache-info, JSON) is held in memory while it arrives: besides
 * the idle timeout it must arrive whole within this time, so slow clients cannot each keep
 * up to `limit` bytes in memory for as long as they like (a 4 MiB narinfo takes well under
 * a second on any link Nix is used over).
 */
export const SMALL_BODY_DEADLINE_MS = 60_000;

/** A request body as chunks, refused with 408 when the client stalls (`FORGE_BODY_IDLE_TIMEOUT`). */
export function bodyOf(req: Request, idleTimeoutMs: number): AsyncIterable<Buffer> {
  return requestBody(req, { idleTimeoutMs });
}

/** Reads a small body (narinfo, listing, JSON) into memory, refusing more than `limit` bytes. */
export async function readSmallBody(req: Request, limit: number, idleTimeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > limit) throw new PayloadTooLargeError(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of requestBody(req, { idleTimeoutMs, deadlineMs: SMALL_BODY_DEADLINE_MS })) {
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
