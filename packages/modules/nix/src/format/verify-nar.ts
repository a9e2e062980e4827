/**
 * Verification of an uploaded NAR file (`PUT nar/<filehash>.nar[.ext]`) in one streaming
 * pass: SHA-256 and size of the bytes as sent (FileHash/FileSize), detection of their
 * actual compression, decompression, the strict NAR parse that yields NarHash/NarSize and
 * streams the `.ls` listing out, and the collection of reference candidates (hash parts
 * that occur in the NAR, see `reference-scanner.ts`). The HTTP layer tees the request into
 * {@link NarVerifier.write} while the same bytes go to storage, stages the listing chunks
 * as they come, and keeps both only if {@link NarVerifier.end} resolves.
 *
 * Memory is bounded whatever the upload holds: the decoder's window, O(depth) parser
 * state, the candidate set (capped), and at most {@link LISTING_HIGH_WATER} bytes of listing
 * waiting for the caller (the decoders wait while it is full).
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import {
  COMPRESSION_MAGIC_LENGTH,
  assertSupportedCompression,
  detectCompression,
  type CompressionName,
  type SupportedCompression,
} from './compression.js';
import { createDecompressor, type Decompressor } from './decompress.js';
import { NarVerificationError } from './errors.js';
import { formatHash, hashesEqual, parseHash, parseNix32Sha256, type Hash } from './hash.js';
import { NarParser } from './nar-parser.js';
import { HashPartCollector, type ReferenceCandidates } from './reference-scanner.js';

/**
 * Listing bytes the verifier holds for a slow `onListing` before it stops decoding until
 * they are taken (the listing goes out in 64 KiB chunks).
 */
export const LISTING_HIGH_WATER = 1024 * 1024;

/** Options of {@link createNarVerifier}. */
export interface NarVerifierOptions {
  /**
   * The compression the upload claims (from its URL or narinfo), or `auto` to detect it.
   * A claim is checked against the data's magic bytes: a file labelled `xz` that is zstd is
   * rejected, because Nix 2.35+ decodes with the labelled method only. Brotli has no magic
   * bytes, so `br` cannot be detected and must be claimed.
   */
  compression: CompressionName | 'auto';
  /** The file hash the URL names: a {@link Hash}, `sha256:…` text or a bare Nix32 digest. */
  expectedFileHash?: Hash | string;
  /** Largest accepted uncompressed NAR (zip-bomb guard). Default: unlimited. */
  maxNarSize?: number;
  /** Largest accepted file as sent. Default: unlimited. */
  maxFileSize?: number;
  /**
   * Receives the `.ls` listing as it is written, in chunks that belong to the receiver.
   * Awaited: while it has not settled, and {@link LISTING_HIGH_WATER} bytes wait behind
   * it, decoding stops (so a slow consumer slows the upload, never grows memory). Without
   * it no listing is written. A rejection fails the verification.
   */
  onListing?: (chunk: Uint8Array) => void | Promise<void>;
  /** Most nodes the NAR may hold (default `NAR_MAX_ENTRIES`). */
  maxEntries?: number;
  /** Most listing bytes (default `NAR_MAX_LISTING_BYTES`). */
  maxListingBytes?: number;
  /**
   * Most distinct reference candidates to collect (default `NAR_MAX_REFERENCE_CANDIDATES`);
   * `0` turns the reference scan off.
   */
  maxReferenceCandidates?: number;
}

/** What a verified upload is. */
export interface NarVerification {
  /** SHA-256 of the bytes as sent (`FileHash`). */
  readonly fileHash: Hash;
  /** Number of bytes as sent (`FileSize`). */
  readonly fileSize: number;
  /** SHA-256 of the uncompressed NAR (`NarHash`). */
  readonly narHash: Hash;
  /** Size of the uncompressed NAR (`NarSize`). */
  readonly narSize: number;
  /** Nodes (files, directories, symlinks) in the NAR, the root included. */
  readonly entryCount: number;
  /** Bytes of `.ls` listing handed to `onListing` (0 without one). */
  readonly listingSize: number;
  /**
   * Hash parts that occur in the NAR (sorted) and whether that set is complete: the facts a
   * narinfo's References are checked against. Absent when the scan was turned off.
   */
  readonly referenceCandidates?: ReferenceCandidates;
  /** The compression the data actually uses. */
  readonly compression: SupportedCompression;
}

/** A streaming verifier; see {@link createNarVerifier}. */
export interface NarVerifier {
  /**
   * Feeds the next chunk of the upload. Resolves when the chunk has been hashed,
   * decompressed and parsed (await it before reading more: that is the backpressure).
   * Rejects with a `NixFormatError` subclass as soon as the data is known to be bad;
   * later calls reject with the same error. Do not modify the chunk afterwards.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the upload: resolves with the verified facts, or rejects saying which one is wrong. */
  end(): Promise<NarVerification>;
  /** Abandons the verification (client went away) and frees decoder resources. Idempotent. */
  abort(): void;
}

/**
 * Creates a verifier for one NAR upload.
 *
 * ```ts
 * const verifier = createNarVerifier({ compression: 'xz', expectedFileHash: hashFromUrl, maxNarSize, onListing });
 * for await (const chunk of req) await verifier.write(chunk);
 * const { narHash, narSize, fileHash, fileSize, referenceCandidates } = await verifier.end();
 * ```
 */
export function createNarVerifier(options: NarVerifierOptions): NarVerifier {
  const expected = options.expectedFileHash === undefined ? undefined : toHash(options.expectedFileHash);
  if (options.compression !== 'auto') assertSupportedCompression(options.compression);
  const maxFileSize = options.maxFileSize ?? Number.MAX_SAFE_INTEGER;
  const fileHash = createHash('sha256');
  let fileSize = 0;
  const listing = options.onListing && new ListingRelay(options.onListing);
  const parser = new NarParser({
    ...(options.maxNarSize !== undefined && { maxSize: options.maxNarSize }),
    ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }),
    ...(options.maxListingBytes !== undefined && { maxListingBytes: options.maxListingBytes }),
    ...(listing && { onListing: (chunk: Uint8Array) => listing.push(chunk) }),
  });
  const collector = options.maxReferenceCandidates === 0 ? undefined : new HashPartCollector(options.maxReferenceCandidates);
  // Every decompressed chunk goes through the parser and the reference scan; once enough
  // listing waits, the decoder is held until the caller took it.
  const onNar = (chunk: Uint8Array): void | Promise<void> => {
    parser.write(chunk);
    collector?.write(chunk);
    if (listing && listing.waiting >= LISTING_HIGH_WATER) return listing.drain();
  };
  let decompressor: Decompressor | undefined;
  let compression: SupportedCompression | undefined;
  // Bytes held back until enough are there to recognise the compression (at most 24).
  let head: Uint8Array[] = [];
  let headLength = 0;
  let failure: unknown;
  let queue: Promise<unknown> = Promise.resolve();

  const start = async (final: boolean): Promise<void> => {
    const bytes = head.length === 1 ? head[0]! : Buffer.concat(head);
    head = [];
    compression = chooseCompression(options.compression, bytes, final);
    // An uncompressed upload is its own NAR: FileHash is NarHash, no need to hash twice.
    if (compression !== 'none') fileHash.update(bytes);
    decompressor = createDecompressor(compression, onNar, {
      ...(options.maxNarSize !== undefined && { maxOutputSize: options.maxNarSize }),
    });
    if (bytes.length > 0) await decompressor.write(bytes);
  };

  const guard = async <T>(step: () => Promise<T>): Promise<T> => {
    if (failure !== undefined) throw failure;
    try {
      return await step();
    } catch (err) {
      // An abort() while this step was waiting keeps its own, clearer error.
      failure ??= err;
      decompressor?.destroy();
      throw failure;
    }
  };

  const doWrite = (chunk: Uint8Array): Promise<void> =>
    guard(async () => {
      if (chunk.length === 0) return;
      fileSize += chunk.length;
      if (fileSize > maxFileSize) {
        throw new NarVerificationError('FileSize', `upload exceeds the maximum file size of ${maxFileSize} bytes`);
      }
      if (decompressor !== undefined) {
        if (compression !== 'none') fileHash.update(chunk);
        await decompressor.write(chunk);
      } else {
        head.push(chunk);
        headLength += chunk.length;
        if (headLength >= COMPRESSION_MAGIC_LENGTH) await start(false);
      }
      await listing?.drain();
    });

  const doEnd = (): Promise<NarVerification> =>
    guard(async () => {
      if (decompressor === undefined) await start(true);
      await decompressor!.end();
      const nar = parser.end();
      await listing?.drain();
      const digest = compression === 'none' ? undefined : fileHash.digest();
      const actualFileHash: Hash =
        digest === undefined ? nar.narHash : { algorithm: 'sha256', digest: new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength) };
      if (expected !== undefined && !hashesEqual(expected, actualFileHash)) {
        throw new NarVerificationError(
          'FileHash',
          `FileHash mismatch: URL says ${formatHash(expected)}, body hashes to ${formatHash(actualFileHash)}`,
        );
      }
      return {
        fileHash: actualFileHash,
        fileSize,
        narHash: nar.narHash,
        narSize: nar.narSize,
        entryCount: nar.entryCount,
        listingSize: nar.listingSize,
        ...(collector && { referenceCandidates: collector.result() }),
        compression: compression!,
      };
    });

  // Calls are serialised, so a caller that forgets to await still gets ordered processing.
  const enqueue = <T>(step: () => Promise<T>): Promise<T> => {
    const next = queue.then(step, step);
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    write: (chunk) => enqueue(() => doWrite(chunk)),
    end: () => enqueue(doEnd),
    abort: () => {
      if (failure === undefined) failure = new NarVerificationError('upload', 'NAR upload was aborted');
      decompressor?.destroy();
    },
  };
}

/**
 * Hands listing chunks to the caller's `onListing` in order, one at a time, awaiting each.
 * `drain()` can be called from anywhere (the decoder's sink, the end of a write): calls are
 * chained, so deliveries never overlap or reorder.
 */
class ListingRelay {
  private readonly queue: Uint8Array[] = [];
  private queued = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(private readonly deliver: (chunk: Uint8Array) => void | Promise<void>) {}

  /** Bytes queued and not yet delivered. */
  get waiting(): number {
    return this.queued;
  }

  push(chunk: Uint8Array): void {
    this.queue.push(chunk);
    this.queued += chunk.length;
  }

  /** Resolves once everything queued so far has been delivered. */
  drain(): Promise<void> {
    this.chain = this.chain.then(async () => {
      while (this.queue.length > 0) {
        const chunk = this.queue.shift()!;
        this.queued -= chunk.length;
        await this.deliver(chunk);
      }
    });
    return this.chain;
  }
}

function toHash(value: Hash | string): Hash {
  if (typeof value !== 'string') return value;
  try {
    return value.includes(':') || value.includes('-') ? parseHash(value) : parseNix32Sha256(value);
  } catch (err) {
    throw new NarVerificationError('FileHash', `invalid expected file hash: ${(err as Error).message}`);
  }
}

const DETECTABLE_HINT = 'none (a plain NAR), xz, zstd and gzip are recognised by their first bytes; brotli must be declared';

function chooseCompression(declared: CompressionName | 'auto', head: Uint8Array, complete: boolean): SupportedCompression {
  if (head.length === 0) throw new NarVerificationError('FileSize', 'the upload is empty');
  const detected = detectCompression(head);
  if (declared === 'auto') {
    if (detected === undefined) {
      throw new NarVerificationError(
        'Compression',
        `cannot tell the compression of the upload: it is not a NAR and has no known magic bytes (${DETECTABLE_HINT})`,
      );
    }
    assertSupportedCompression(detected);
    return detected;
  }
  assertSupportedCompression(declared);
  if (declared === 'br') {
    // Brotli cannot be sniffed, but anything recognisably else is certainly not brotli.
    if (detected !== undefined) {
      throw new NarVerificationError('Compression', `Compression mismatch: declared br, but the data is ${describe(detected)}`);
    }
    return declared;
  }
  if (detected !== declared) {
    const what = detected === undefined ? (complete && head.length < COMPRESSION_MAGIC_LENGTH ? 'too short to be' : 'not') : undefined;
    throw new NarVerificationError(
      'Compression',
      what === undefined
        ? `Compression mismatch: declared ${declared}, but the data is ${describe(detected!)}`
        : `Compression mismatch: declared ${declared}, but the data is ${what} ${describe(declared)}`,
    );
  }
  return declared;
}

function describe(compression: CompressionName): string {
  return compression === 'none' ? 'an uncompressed NAR' : `${compression}-compressed`;
}

/** The narinfo fields {@link assertNarInfoMatchesNar} compares. */
export interface NarInfoClaims {
  readonly narHash: Hash;
  readonly narSize: number;
  readonly compression: CompressionName;
  readonly fileHash?: Hash;
  readonly fileSize?: number;
}

/**
 * Checks an uploaded narinfo against what verifying its NAR established, and throws a
 * {@link NarVerificationError} naming the first field that disagrees, e.g.
 * `NarHash mismatch: narinfo says sha256:…, the NAR hashes to sha256:…`. A missing
 * `FileHash`/`FileSize` is not a mismatch (Nix 2.20+ omits them when unknown).
 */
export function assertNarInfoMatchesNar(info: NarInfoClaims, nar: Pick<NarVerification, 'narHash' | 'narSize' | 'compression' | 'fileHash' | 'fileSize'>): void {
  if (!hashesEqual(info.narHash, nar.narHash)) {
    throw new NarVerificationError('NarHash', `NarHash mismatch: narinfo says ${formatHash(info.narHash)}, the NAR hashes to ${formatHash(nar.narHash)}`);
  }
  if (info.narSize !== nar.narSize) {
    throw new NarVerificationError('NarSize', `NarSize mismatch: narinfo says ${info.narSize}, the NAR is ${nar.narSize} bytes`);
  }
  if (info.compression !== nar.compression) {
    throw new NarVerificationError('Compression', `Compression mismatch: narinfo says ${info.compression}, the NAR file is ${describe(nar.compression)}`);
  }
  if (info.fileHash !== undefined && !hashesEqual(info.fileHash, nar.fileHash)) {
    throw new NarVerificationError('FileHash', `FileHash mismatch: narinfo says ${formatHash(info.fileHash)}, the file hashes to ${formatHash(nar.fileHash)}`);
  }
  if (info.fileSize !== undefined && info.fileSize !== nar.fileSize) {
    throw new NarVerificationError('FileSize', `FileSize mismatch: narinfo says ${info.fileSize}, the file is ${nar.fileSize} bytes`);
  }
}
