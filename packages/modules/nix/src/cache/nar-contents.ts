/**
 * Reading what is inside a stored path, without downloading whole NARs (the store path
 * pages show it):
 * - a file's bytes by its offset in the NAR (the server-computed listing has it): a ranged
 *   blob read for uncompressed NARs, and for compressed ones a streaming decompression
 *   that stops as soon as the wanted bytes went by;
 * - the listing itself (owner file `ls/<file>`), parsed and memoised by its hash;
 * - build logs, decompressed when the uploader compressed them.
 */
import type { Readable } from 'node:stream';
import { Memo, type OwnerFileRecord, type RegistryService } from '@forge/core';
import { NIX } from '../constants.js';
import {
  createDecompressor,
  isSupportedCompression,
  NarParser,
  parseListing,
  type CompressionName,
  type NarListing,
} from '../format/index.js';
import type { StorePathRecord } from '../store/store-paths.js';
import { narFileNameOf, ownerFileKeys } from './owner-files.js';
import { Semaphore } from './semaphore.js';

/** Largest listing the pages parse (the upload limit of `.ls` files is 64 MiB). */
const LISTING_LIMIT = 64 * 1024 * 1024;
const SLICE = 64 * 1024;

/** Thrown from a decompressor's sink to stop once enough bytes arrived. */
class Enough extends Error {}

/**
 * xz keeps its dictionary in WebAssembly memory that never shrinks: the pages decode at
 * most two NARs at once (uploads have their own limit), the rest wait.
 */
const decoders = new Semaphore(2);

export interface FilePreview {
  /** The first bytes of the file, at most the cap. */
  bytes: Buffer;
  /** Whether the file is longer than what was read. */
  truncated: boolean;
  /** Bytes of the NAR that went through a decompressor or were read (for tests and logs). */
  narBytesRead: number;
}

/**
 * The first `cap` bytes of a regular file in a NAR blob. `narOffset` and `size` come from
 * the listing; without an offset (an old listing) the NAR is parsed up to the file.
 */
export async function readNarFile(
  registry: RegistryService,
  nar: { sha256: string; compression: string },
  file: { path: string; size: number; narOffset?: number },
  cap: number,
): Promise<FilePreview> {
  const want = Math.min(file.size, cap);
  const truncated = file.size > want;
  if (want === 0) return { bytes: Buffer.alloc(0), truncated, narBytesRead: 0 };
  const offset = file.narOffset;

  if (nar.compression === 'none' && offset) {
    const stream = await registry.openBlob(nar.sha256, { start: offset, end: offset + want - 1 });
    const bytes = await collect(stream, want);
    return { bytes, truncated, narBytesRead: bytes.length };
  }

  if (!isSupportedCompression(nar.compression)) throw new Error(`cannot decompress ${nar.compression} NARs`);
  const out = Buffer.alloc(want);
  let filled = 0;
  let position = 0;
  let sink: (chunk: Uint8Array) => void;
  if (offset) {
    // Copy the part of each decompressed chunk that falls into [offset, offset + want).
    sink = (chunk) => {
      const start = position;
      position += chunk.length;
      if (position <= offset) return;
      const from = Math.max(offset - start, 0);
      const take = Math.min(chunk.length - from, want - filled);
      out.set(chunk.subarray(from, from + take), filled);
      filled += take;
      if (filled >= want) throw new Enough();
    };
  } else {
    const nparser = new NarParser({
      onFileContents: (path, at, bytes) => {
        if (path !== file.path || at >= want) return;
        const take = Math.min(bytes.length, want - at);
        out.set(bytes.subarray(0, take), at);
        filled = Math.max(filled, at + take);
        if (filled >= want) nparser.stop();
      },
    });
    sink = (chunk) => {
      position += chunk.length;
      nparser.write(chunk);
      if (nparser.isStopped) throw new Enough();
    };
  }

  await decompressBlob(registry, nar.sha256, nar.compression, (chunk) => sink(chunk));
  if (filled < want) throw new Error(`the NAR ended before ${file.path || 'the file'} did`);
  return { bytes: out.subarray(0, filled), truncated, narBytesRead: position };
}

/**
 * Streams a stored blob through a decompressor (holding one of the pages' decoder slots)
 * into `sink`, to the end or until the sink throws {@link Enough}; true if it stopped early.
 */
async function decompressBlob(registry: RegistryService, sha256: string, compression: CompressionName, sink: (chunk: Uint8Array) => void): Promise<boolean> {
  const release = await decoders.acquire();
  const decompressor = createDecompressor(compression, sink);
  let stream: Readable | undefined;
  try {
    stream = await registry.openBlob(sha256);
    for await (const input of stream as AsyncIterable<Buffer>) {
      for (let pos = 0; pos < input.length; pos += SLICE) await decompressor.write(input.subarray(pos, pos + SLICE));
    }
    await decompressor.end();
    return false;
  } catch (err) {
    if (!(err instanceof Enough)) throw err;
    return true;
  } finally {
    stream?.destroy();
    decompressor.destroy();
    release();
  }
}

async function collect(stream: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= limit) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, size).subarray(0, limit);
}

/** Bytes of listing files whose parsed form the pages keep in memory. */
const LISTING_MEMO_BYTES = 32 * 1024 * 1024;

/**
 * Parsed listings by the listing blob's hash (content-addressed: they never change, so no
 * change notice concerns them), counted by the size of the listing file.
 */
const listings = new Memo<string, { listing: NarListing; size: number }>({
  maxEntries: 10_000,
  maxBytes: LISTING_MEMO_BYTES,
  maxEntryBytes: LISTING_MEMO_BYTES / 4,
  ttlMs: 60 * 60_000,
  sizeOf: (entry) => entry.size,
});

/** The listing stored with a NAR, parsed; memoised by its content hash (it never changes). */
async function loadListing(registry: RegistryService, file: OwnerFileRecord): Promise<NarListing> {
  const hit = listings.get(file.sha256);
  if (hit) return hit.listing;
  if (file.size > LISTING_LIMIT) throw new Error(`the listing is too large to show (${file.size} bytes)`);
  const epoch = listings.epoch();
  const bytes = await collect(await registry.openBlob(file.sha256), LISTING_LIMIT);
  const listing = parseListing(bytes);
  listings.set(file.sha256, { listing, size: file.size }, epoch);
  return listing;
}

/** Content encodings Nix uploads logs with (`log-compression`), mapped to our decoders. */
const LOG_ENCODINGS: Record<string, string> = { br: 'br', gzip: 'gzip', 'x-gzip': 'gzip', xz: 'xz', zstd: 'zstd', identity: 'none', none: 'none' };

/** The first `cap` bytes of a build log, decoded. */
export async function readLog(registry: RegistryService, file: OwnerFileRecord, cap: number): Promise<{ text: Buffer; truncated: boolean; size: number | null }> {
  const encoding = String(file.properties.contentEncoding ?? 'none').toLowerCase();
  const method = LOG_ENCODINGS[encoding];
  if (method === 'none' || method === undefined) {
    if (method === undefined) throw new Error(`the log is stored with the content encoding "${encoding}", which this page cannot decode`);
    const bytes = await collect(await registry.openBlob(file.sha256, file.size > 0 ? { start: 0, end: Math.min(file.size, cap) - 1 } : undefined), cap);
    return { text: bytes, truncated: file.size > cap, size: file.size };
  }
  if (!isSupportedCompression(method)) throw new Error(`cannot decode ${encoding} logs`);
  const out: Buffer[] = [];
  let filled = 0;
  let truncated = false;
  const stopped = await decompressBlob(registry, file.sha256, method, (chunk) => {
    const take = Math.min(chunk.length, cap - filled);
    out.push(Buffer.from(chunk.subarray(0, take)));
    filled += take;
    if (take < chunk.length || filled >= cap) {
      truncated = take < chunk.length;
      throw new Enough();
    }
  });
  // Stopped at exactly `cap` bytes: there may be more.
  if (stopped) truncated = true;
  return { text: Buffer.concat(out, filled), truncated, size: truncated ? null : filled };
}

/** A stored path's files in its owner's cache: its NAR, the NAR's listing, its build log. */
export class PathContents {
  constructor(private readonly registry: RegistryService) {}

  /** The owner's copy of a path's NAR (its blob and compression). */
  async nar(path: StorePathRecord): Promise<{ file: OwnerFileRecord; compression: string } | null> {
    const file = await this.registry.getOwnerFile(path.ownerId, NIX, ownerFileKeys.nar(narFileNameOf(path.url)));
    if (!file) return null;
    return { file, compression: String(file.properties.compression ?? path.compression) };
  }

  /** The listing the server computed from the path's NAR, or null (none stored). */
  async listing(path: StorePathRecord): Promise<NarListing | null> {
    const file = await this.registry.getOwnerFile(path.ownerId, NIX, ownerFileKeys.listing(narFileNameOf(path.url)));
    return file ? loadListing(this.registry, file) : null;
  }

  /** The build log uploaded for the path's deriver, if any. */
  async log(path: StorePathRecord): Promise<OwnerFileRecord | null> {
    if (!path.deriver) return null;
    return this.registry.getOwnerFile(path.ownerId, NIX, ownerFileKeys.log(path.deriver));
  }

  /** The first `cap` bytes of a regular file in the path (see {@link readNarFile}). */
  readFile(nar: { sha256: string; compression: string }, file: { path: string; size: number; narOffset?: number }, cap: number): Promise<FilePreview> {
    return readNarFile(this.registry, nar, file, cap);
  }

  /** The first `cap` bytes of a build log, decoded (see {@link readLog}). */
  readLog(file: OwnerFileRecord, cap: number): Promise<{ text: Buffer; truncated: boolean; size: number | null }> {
    return readLog(this.registry, file, cap);
  }
}
