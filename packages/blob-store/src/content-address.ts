import { BadRequestError } from '@forge/core';

const SHA256_HEX = /^[0-9a-f]{64}$/;

/** True for a lowercase hex sha256, the only form of key the store accepts. */
export function isSha256(value: unknown): value is string {
  return typeof value === 'string' && SHA256_HEX.test(value);
}

/**
 * Rejects anything but 64 lowercase hex characters. Every public entry point calls this
 * before a key becomes part of a path or an object key, so `../`, separators, NUL bytes
 * and uppercase aliases of a stored blob can never reach the filesystem.
 */
export function assertSha256(value: unknown): asserts value is string {
  if (!isSha256(value)) {
    throw new BadRequestError('invalid sha256: expected 64 lowercase hexadecimal characters');
  }
}

/**
 * The blob's key below the blob root, fanned out by its first two bytes as Gitea does
 * (`aa/bb/aabb…`): 65,536 leaf directories, about 15 blobs each per million blobs.
 * Shared by the local store (as a path) and object stores (as a key).
 */
export function blobKey(sha256: string): string {
  assertSha256(sha256);
  return `${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}

/** Ranges are inclusive; a start above the end, or a negative or fractional bound, is a caller bug. */
export function assertRange(range: { start: number; end: number }): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
}

export function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
