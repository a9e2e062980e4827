import { link, mkdir, open, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  NotFoundError,
  RangeNotSatisfiableError,
  type BlobStore,
  type ByteRange,
  type BlobDigests,
  type StagedBlob,
  type StageOptions,
  type StoredBlobInfo,
} from '@forge/core';
import { assertRange, assertSha256, blobKey, isSha256, positiveInteger } from './content-address.js';
import { isErrno, Serializer, sortedEntries, StagingArea, type StagingFile } from './staging-area.js';

export interface LocalBlobStoreOptions {
  /** Directory holding `blobs/` and `tmp/`; created on first use. */
  root: string;
  /** Bytes gathered per write(2) while staging. Default 1 MiB. */
  writeBufferSize?: number;
  /** Bytes per read(2) when streaming a blob out. Default 512 KiB. */
  readBufferSize?: number;
}

const DEFAULT_WRITE_BUFFER = 1024 * 1024;
const DEFAULT_READ_BUFFER = 512 * 1024;
const FAN_OUT = /^[0-9a-f]{2}$/;

export function createLocalBlobStore(options: LocalBlobStoreOptions): LocalBlobStore {
  return new LocalBlobStore(options);
}

/**
 * Content-addressed blobs on the local filesystem, laid out as Gitea does:
 * `<root>/blobs/aa/bb/<sha256>`, with uploads staged under `<root>/tmp/`.
 *
 * A blob becomes visible only through link(2) of a fully written, fdatasynced staging
 * file, followed by an fsync of its directory, so after a crash a blob is either absent or
 * complete. See docs/blob-store.md.
 */
export class LocalBlobStore implements BlobStore {
  readonly kind = 'local';
  /** Absolute path of the store's root directory. */
  readonly root: string;
  readonly #blobsDir: string;
  readonly #staging: StagingArea;
  readonly #readBufferSize: number;

  constructor(options: LocalBlobStoreOptions) {
    this.root = resolve(options.root);
    this.#blobsDir = join(this.root, 'blobs');
    this.#staging = new StagingArea(join(this.root, 'tmp'), positiveInteger(options.writeBufferSize ?? DEFAULT_WRITE_BUFFER, 'writeBufferSize'));
    this.#readBufferSize = positiveInteger(options.readBufferSize ?? DEFAULT_READ_BUFFER, 'readBufferSize');
  }

  async check(): Promise<void> {
    try {
      await mkdir(this.#blobsDir, { recursive: true });
      await this.#staging.check();
    } catch (error) {
      throw new Error(`blob storage at ${this.root} is not writable: ${(error as Error).message}`, { cause: error });
    }
  }

  async stage(source: AsyncIterable<Uint8Array>, options: StageOptions = {}): Promise<StagedBlob> {
    const file = await this.#staging.write(source, options);
    const blob = new LocalStagedBlob(file, this.#blobPath(file.sha256), this.root, this.#staging);
    this.#staging.track(blob, file);
    return blob;
  }

  async stat(sha256: string): Promise<{ size: number; modifiedMs: number } | null> {
    try {
      const info = await stat(this.#blobPath(sha256));
      return info.isFile() ? { size: info.size, modifiedMs: info.mtimeMs } : null;
    } catch (error) {
      if (isErrno(error, 'ENOENT')) return null;
      throw error;
    }
  }

  /**
   * Streams a blob, or the inclusive `range` of it. As in HTTP, an end beyond the last
   * byte means "to the end"; a start beyond it is RangeNotSatisfiableError.
   */
  async open(sha256: string, range?: ByteRange): Promise<Readable> {
    const path = this.#blobPath(sha256);
    if (range) assertRange(range);
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (error) {
      if (isErrno(error, 'ENOENT')) throw new NotFoundError(`blob ${sha256} not found`);
      throw error;
    }
    try {
      let start: number | undefined;
      let end: number | undefined;
      if (range) {
        // Through the open descriptor, so a concurrent delete cannot split stat and read.
        const { size } = await file.stat();
        if (range.start >= size) throw new RangeNotSatisfiableError(size);
        start = range.start;
        end = Math.min(range.end, size - 1);
      }
      return file.createReadStream({ start, end, highWaterMark: this.#readBufferSize });
    } catch (error) {
      await file.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Removes a blob. Not fsynced: a delete lost to a crash leaves an unreferenced blob,
   * which the next sweep removes again.
   */
  async delete(sha256: string): Promise<void> {
    try {
      await unlink(this.#blobPath(sha256));
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
    }
  }

  /**
   * Every stored sha256, in ascending order (so fsck and GC can merge it with a sorted
   * database query). Staging files and stray names are skipped.
   */
  async *list(): AsyncIterable<string> {
    for (const a of await sortedEntries(this.#blobsDir)) {
      if (!FAN_OUT.test(a)) continue;
      for (const b of await sortedEntries(join(this.#blobsDir, a))) {
        if (!FAN_OUT.test(b)) continue;
        const prefix = a + b;
        for (const name of await sortedEntries(join(this.#blobsDir, a, b))) {
          if (isSha256(name) && name.startsWith(prefix)) yield name;
        }
      }
    }
  }

  async *entries(): AsyncIterable<StoredBlobInfo> {
    for await (const sha256 of this.list()) {
      const info = await this.stat(sha256);
      if (info) yield { sha256, ...info };
    }
  }

  /** Absolute path where the blob is (or would be) stored; it may not exist. */
  localPath(sha256: string): string {
    return this.#blobPath(sha256);
  }

  /** A local store cannot hand out URLs; `FORGE_SERVE_DIRECT=accel` serves its files through nginx instead. */
  async presignGet(sha256: string): Promise<null> {
    assertSha256(sha256);
    return null;
  }

  /**
   * Removes staging files last modified more than `olderThanMs` ago: leftovers of a crash
   * or of a staged blob never discarded. Uploads in flight in this instance are spared
   * whatever their age; the age limit protects those of other processes that share the
   * root. Returns how many entries were removed.
   */
  sweepStaging(olderThanMs: number): Promise<number> {
    return this.#staging.sweep(olderThanMs);
  }

  #blobPath(sha256: string): string {
    return join(this.#blobsDir, blobKey(sha256));
  }
}

type StagedState = 'staged' | 'discarded';

class LocalStagedBlob implements StagedBlob {
  readonly sha256: string;
  readonly size: number;
  readonly digests?: BlobDigests;
  #state: StagedState = 'staged';
  readonly #serial = new Serializer();
  /** The content address holds the bytes; only the directory syncs may remain. */
  #placed = false;
  /** Directories whose entries must be durable before promote() resolves: the blob's, and its parents when they were just created. */
  #dirsToSync: string[];

  constructor(
    private readonly file: StagingFile,
    private readonly targetPath: string,
    private readonly root: string,
    private readonly staging: StagingArea,
  ) {
    this.sha256 = file.sha256;
    this.size = file.size;
    this.digests = file.digests;
    this.#dirsToSync = [dirname(targetPath)];
  }

  promote(): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#state === 'discarded') throw new Error(`staged blob ${this.sha256} was discarded and cannot be promoted`);
      await this.#placeIntoStore();
    });
  }

  discard(): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#state === 'discarded') return;
      this.#state = 'discarded';
      await this.staging.release(this, this.file);
    });
  }

  /**
   * Hard-links the staging file to the content address, so the staged copy stays for a
   * repeated promote (a rename would consume it). A file of the same size already there
   * is the same blob (equal sha256, equal bytes); a different size can only be a damaged
   * copy, replaced atomically by a rename of a second link.
   */
  async #placeIntoStore(): Promise<void> {
    const target = this.targetPath;
    const leaf = dirname(target);
    // A repeated promote checks again: the blob may have been deleted since.
    if (this.#placed && (await sizeOf(target)) !== this.size) this.#placed = false;
    if (!this.#placed) {
      const existing = await sizeOf(target);
      if (existing !== this.size) {
        try {
          if (existing === null) await link(this.file.path, target);
          else await this.#replace();
        } catch (error) {
          if (isErrno(error, 'EEXIST')) {
            // A concurrent promote of the same bytes won the race, or a damaged copy appeared.
            if ((await sizeOf(target)) !== this.size) await this.#replace();
          } else if (isErrno(error, 'ENOENT')) {
            // First blob under this prefix. Whether this call or a concurrent one created
            // the directories, their entries must be durable before either promote resolves.
            await mkdir(leaf, { recursive: true });
            await link(this.file.path, target).catch((e: unknown) => {
              if (!isErrno(e, 'EEXIST')) throw e;
            });
            const fanOut = dirname(leaf);
            this.#dirsToSync.push(fanOut, dirname(fanOut), this.root);
          } else {
            throw error;
          }
        }
      }
      this.#placed = true;
    }
    // Kept until every sync succeeded, so a retried promote() finishes the job.
    await Promise.all(this.#dirsToSync.map(fsyncDirectory));
    this.#dirsToSync = [dirname(target)];
  }

  async #replace(): Promise<void> {
    const second = `${this.file.path}.promote`;
    await rm(second, { force: true });
    await link(this.file.path, second);
    await rename(second, this.targetPath);
  }
}

async function fsyncDirectory(path: string): Promise<void> {
  // Windows cannot open directories; NTFS journals renames itself.
  if (process.platform === 'win32') return;
  const dir = await open(path, 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function sizeOf(path: string): Promise<number | null> {
  try {
    const info = await stat(path);
    return info.isFile() ? info.size : -1;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
}
