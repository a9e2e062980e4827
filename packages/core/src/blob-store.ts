import type { Readable } from 'node:stream';

/** A byte range, inclusive on both ends as in HTTP `Range: bytes=start-end`. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface StageOptions {
  /** Reject with PayloadTooLargeError as soon as more than this many bytes arrived. */
  maxSize?: number;
  /** Aborting removes the staged bytes and rejects. */
  signal?: AbortSignal;
}

/**
 * Bytes that were streamed into the store's staging area and fully hashed, but are not
 * yet visible at their content address. The registry promotes them right before its
 * transaction commits, or discards them when it fails.
 */
export interface StagedBlob {
  readonly sha256: string;
  readonly size: number;
  /** Move the bytes to their content address. Idempotent; a no-op when identical bytes are already stored. */
  promote(): Promise<void>;
  /** Remove the staged bytes. Idempotent; a no-op after promote(). */
  discard(): Promise<void>;
}

/**
 * Content-addressed blob storage, keyed by lowercase hex sha256.
 * Implementations: local filesystem (default); S3-compatible object storage later.
 */
export interface BlobStore {
  /** Streams `source` into staging while hashing it; nothing is visible until promote(). */
  stage(source: AsyncIterable<Uint8Array>, options?: StageOptions): Promise<StagedBlob>;
  /** Size of a stored blob, or null when absent. */
  stat(sha256: string): Promise<{ size: number } | null>;
  /** Reads a stored blob, optionally a byte range of it. NotFoundError when absent. */
  open(sha256: string, range?: ByteRange): Promise<Readable>;
  /** Deletes a stored blob; absent blobs are not an error. */
  delete(sha256: string): Promise<void>;
  /** Every stored blob's sha256 (for fsck and garbage collection). */
  list(): AsyncIterable<string>;
  /**
   * Path of the blob on the local filesystem, for zero-copy responses (sendfile);
   * null for stores that are not local.
   */
  localPath(sha256: string): string | null;
}
