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
import type { OwnerFileRecord, RegistryService } from '@forge/core';
import { NIX } from '../constants.js';
import {
  createDecompressor,
  isSupportedCompression,
  ListingReader,
  NarParser,
  type CompressionName,
  type ListingLookup,
  type ListingWindow,
} from '../format/index.js';
import type { StorePathRecord } from '../store/store-paths.js';
import { narFileNameOf, ownerFileKeys } from './owner-files.js';
import { Semaphore } from './semaphore.js';

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

/**
 * Listings read at once by the pages of a process. Reading costs CPU linear in the listing
 * (up to `NAR_MAX_LISTING_BYTES`) but no memory beyond the page asked for; more readers
 * would only share the same cores, so the rest wait their turn.
 */
export const LISTING_READERS = 2;
const listingReaders = new Semaphore(LISTING_READERS);

/**
 * What a stored listing says is at `inner` (`''` is the root): a file's facts, or a window
 * of a directory's entries with its counts; read from the blob as it streams, never whole
 * (see `ListingReader`), and only as far as the answer needs.
 */
async function readListing(registry: RegistryService, file: OwnerFileRecord, inner: string, window: ListingWindow): Promise<ListingLookup> {
  const release = await listingReaders.acquire();
  const reader = new ListingReader(inner, window);
  let stream: Readable | undefined;
  try {
    stream = await registry.openBlob(file.sha256);
    for await (const chunk of stream as AsyncIterable<Buffer>) if (reader.write(chunk)) return reader.result();
    return reader.end();
  } finally {
    stream?.destroy();
    release();
  }
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

  /**
   * What is at `inner` in the path (`''` is its root), from the listing the server computed
   * from its NAR: a file's facts, or `window` of a directory's entries and its counts. Null
   * when no listing is stored.
   */
  async browse(path: StorePathRecord, inner: string, window: ListingWindow = { offset: 0, limit: 0 }): Promise<ListingLookup | null> {
    const file = await this.registry.getOwnerFile(path.ownerId, NIX, ownerFileKeys.listing(narFileNameOf(path.url)));
    return file ? readListing(this.registry, file, inner, window) : null;
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
