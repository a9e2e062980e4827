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
  /**
   * Also compute md5, sha1 and sha512 while staging (Gitea's package API shows them). Off by
   * default: together they cost about three times the sha256's CPU, which the hot Nix upload
   * path does not pay for fields no Nix client reads.
   */
  extraDigests?: boolean;
}

/** The digests besides sha256 a blob was staged with (`StageOptions.extraDigests`), lowercase hex. */
export interface BlobDigests {
  md5: string;
  sha1: string;
  sha512: string;
}

/**
 * Bytes that were streamed into the store's staging area and fully hashed, but are not
 * yet stored at their content address. The registry promotes them **before** it opens its
 * transaction (on S3 a promote uploads the whole blob: never inside a transaction), and
 * discards the staged copy once the transaction is over, whatever its outcome.
 * See docs/blob-store.md, "Writing: stage, promote, commit".
 */
export interface StagedBlob {
  readonly sha256: string;
  readonly size: number;
  /** Present when staged with `extraDigests`. */
  readonly digests?: BlobDigests;
  /**
   * Stores the bytes at their content address, durably. Idempotent, and cheap when the
   * store already holds the blob. The staged copy stays until discard(), so a promote
   * can be repeated (the registry does, when a blob vanished before its rows committed).
   */
  promote(): Promise<void>;
  /** Removes the staged copy. Idempotent. A blob already promoted stays stored. */
  discard(): Promise<void>;
}

/** A stored blob, as listings report it. */
export interface StoredBlobInfo {
  sha256: string;
  size: number;
  /** When the bytes were last written at their content address (ms since the epoch). */
  modifiedMs: number;
}

/** Response header overrides a presigned download carries (S3's `response-*` parameters). */
export interface PresignOptions {
  /** Lifetime of the URL in seconds. */
  expiresInSeconds: number;
  contentType?: string;
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
}

/**
 * Content-addressed blob storage, keyed by lowercase hex sha256.
 * Implementations: local filesystem (default) and S3-compatible object storage
 * (`@forge/blob-store`); one contract test suite runs against both.
 */
export interface BlobStore {
  /** `local` or `s3`, for logs and start-up messages. */
  readonly kind: string;
  /**
   * Verifies at start-up that the store is reachable and usable (S3: endpoint, bucket,
   * credentials); rejects with a one-line explanation otherwise.
   */
  check(): Promise<void>;
  /** Streams `source` into staging while hashing it; nothing is stored until promote(). */
  stage(source: AsyncIterable<Uint8Array>, options?: StageOptions): Promise<StagedBlob>;
  /** Size and modification time of a stored blob, or null when absent. */
  stat(sha256: string): Promise<{ size: number; modifiedMs: number } | null>;
  /** Reads a stored blob, optionally a byte range of it. NotFoundError when absent. */
  open(sha256: string, range?: ByteRange): Promise<Readable>;
  /** Deletes a stored blob; absent blobs are not an error. */
  delete(sha256: string): Promise<void>;
  /** Every stored blob's sha256, in ascending order (for fsck and garbage collection). */
  list(): AsyncIterable<string>;
  /** Every stored blob with its size and modification time, in ascending sha256 order. */
  entries(): AsyncIterable<StoredBlobInfo>;
  /**
   * Removes staging leftovers (crashed or abandoned uploads, incomplete multipart
   * uploads) older than `olderThanMs`; uploads in flight in this process are spared.
   * Returns how many were removed.
   */
  sweepStaging(olderThanMs: number): Promise<number>;
  /**
   * Path of the blob on the local filesystem, for zero-copy responses (sendfile,
   * X-Accel-Redirect); null for stores that are not local.
   */
  localPath(sha256: string): string | null;
  /**
   * A short-lived URL from which a client may GET the blob directly (S3 presigned URL),
   * or null when the store cannot serve directly. The caller checks access first.
   */
  presignGet(sha256: string, options: PresignOptions): Promise<string | null>;
}
