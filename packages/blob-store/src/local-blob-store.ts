import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { NotFoundError, RangeNotSatisfiableError, type BlobStore, type ByteRange, type StagedBlob, type StageOptions } from '@forge/core';
import { assertSha256, blobKey, isSha256 } from './content-address.js';
import { streamToFile } from './stream-to-file.js';

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
const STAGING_SUFFIX = '.tmp';
const FAN_OUT = /^[0-9a-f]{2}$/;

export function createLocalBlobStore(options: LocalBlobStoreOptions): LocalBlobStore {
  return new LocalBlobStore(options);
}

/**
 * Content-addressed blobs on the local filesystem, laid out as Gitea does:
 * `<root>/blobs/aa/bb/<sha256>`, with uploads staged under `<root>/tmp/`.
 *
 * A blob becomes visible only through rename(2) of a fully written, fdatasynced staging
 * file, followed by an fsync of its directory, so after a crash a blob is either absent or
 * complete. See docs/blob-store.md.
 */
export class LocalBlobStore implements BlobStore {
  /** Absolute path of the store's root directory. */
  readonly root: string;
  readonly #blobsDir: string;
  readonly #stagingDir: string;
  readonly #writeBufferSize: number;
  readonly #readBufferSize: number;
  /** Staging files of this instance not yet promoted or discarded; cleanupStaging spares them. */
  readonly #liveStaging = new Set<string>();
  /**
   * A staged blob dropped without promote() or discard() (a caller's bug) would leave
   * its staging file until the next start-up; remove it when the object is collected.
   */
  readonly #abandoned = new FinalizationRegistry<string>((name) => {
    this.#liveStaging.delete(name);
    rm(join(this.#stagingDir, name), { force: true }).catch(() => {});
  });

  constructor(options: LocalBlobStoreOptions) {
    this.root = resolve(options.root);
    this.#blobsDir = join(this.root, 'blobs');
    this.#stagingDir = join(this.root, 'tmp');
    this.#writeBufferSize = positiveInteger(options.writeBufferSize ?? DEFAULT_WRITE_BUFFER, 'writeBufferSize');
    this.#readBufferSize = positiveInteger(options.readBufferSize ?? DEFAULT_READ_BUFFER, 'readBufferSize');
  }

  async stage(source: AsyncIterable<Uint8Array>, options: StageOptions = {}): Promise<StagedBlob> {
    const { maxSize, signal } = options;
    if (maxSize !== undefined && !(Number.isSafeInteger(maxSize) && maxSize >= 0)) {
      throw new RangeError(`maxSize must be a non-negative integer, got ${maxSize}`);
    }
    signal?.throwIfAborted();

    const name = randomBytes(16).toString('hex') + STAGING_SUFFIX;
    const tempPath = join(this.#stagingDir, name);
    this.#liveStaging.add(name);
    let file: FileHandle | undefined;
    try {
      file = await this.#createStagingFile(tempPath);
      const { sha256, size } = await streamToFile(source, file, { maxSize, signal, bufferSize: this.#writeBufferSize });
      await file.close();
      const blob: LocalStagedBlob = new LocalStagedBlob(sha256, size, tempPath, this.#blobPath(sha256), this.root, () => {
        this.#liveStaging.delete(name);
        this.#abandoned.unregister(blob);
      });
      this.#abandoned.register(blob, name, blob);
      return blob;
    } catch (error) {
      await file?.close().catch(() => {});
      await rm(tempPath, { force: true }).catch(() => {});
      this.#liveStaging.delete(name);
      throw error;
    }
  }

  async stat(sha256: string): Promise<{ size: number } | null> {
    try {
      const info = await stat(this.#blobPath(sha256));
      return info.isFile() ? { size: info.size } : null;
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
   * which the next garbage collection removes again.
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

  /** Absolute path where the blob is (or would be) stored; it may not exist. */
  localPath(sha256: string): string {
    return this.#blobPath(sha256);
  }

  /**
   * Removes staging files last modified more than `olderThanMs` ago: leftovers of a crash
   * or of a staged blob never promoted nor discarded. Uploads in flight in this instance
   * are spared whatever their age; the age limit protects those of other processes that
   * share the root. Returns how many entries were removed.
   */
  async cleanupStaging(olderThanMs: number): Promise<number> {
    if (!(olderThanMs >= 0)) throw new RangeError(`olderThanMs must be >= 0, got ${olderThanMs}`);
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await sortedEntries(this.#stagingDir)) {
      if (this.#liveStaging.has(name)) continue;
      const path = join(this.#stagingDir, name);
      let modified: number;
      try {
        modified = (await lstat(path)).mtimeMs;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) continue;
        throw error;
      }
      if (modified > cutoff) continue;
      await rm(path, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  #blobPath(sha256: string): string {
    return join(this.#blobsDir, blobKey(sha256));
  }

  async #createStagingFile(path: string): Promise<FileHandle> {
    try {
      return await open(path, 'wx');
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      await mkdir(this.#stagingDir, { recursive: true });
      return await open(path, 'wx');
    }
  }
}

type StagedState = 'staged' | 'promoted' | 'discarded';

class LocalStagedBlob implements StagedBlob {
  #state: StagedState = 'staged';
  /** The promote or discard under way; later calls wait for it. */
  #busy: Promise<void> | null = null;
  /** The staging file is gone (renamed, or dropped as a duplicate); only the directory sync may remain. */
  #moved = false;
  /** Directories whose entries must be durable before promote() resolves: the blob's, and its parents when they were just created. */
  #dirsToSync: string[];

  constructor(
    readonly sha256: string,
    readonly size: number,
    private readonly tempPath: string,
    private readonly targetPath: string,
    private readonly root: string,
    private readonly settled: () => void,
  ) {
    this.#dirsToSync = [dirname(targetPath)];
  }

  promote(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#state === 'promoted') return;
      if (this.#state === 'discarded') throw new Error(`staged blob ${this.sha256} was discarded and cannot be promoted`);
      await this.#moveIntoPlace();
      this.#state = 'promoted';
      this.settled();
    });
  }

  discard(): Promise<void> {
    return this.#serialize(async () => {
      if (this.#state !== 'staged') return;
      this.#state = 'discarded';
      this.settled();
      if (!this.#moved) await rm(this.tempPath, { force: true });
    });
  }

  #serialize(operation: () => Promise<void>): Promise<void> {
    const previous = this.#busy ?? Promise.resolve();
    const current = previous.then(operation, operation);
    const tracked = current.finally(() => {
      if (this.#busy === tracked) this.#busy = null;
    });
    tracked.catch(() => {});
    this.#busy = tracked;
    return current;
  }

  async #moveIntoPlace(): Promise<void> {
    const leaf = dirname(this.targetPath);
    if (!this.#moved) {
      const existing = await statOrNull(this.targetPath);
      if (existing?.isFile() && existing.size === this.size) {
        // Same sha256, same bytes: the stored copy serves. Its directory is still synced
        // below, in case the promote that renamed it has not got that far yet.
        await rm(this.tempPath, { force: true }).catch(() => {});
      } else {
        try {
          // Replaces atomically whatever is there (only a damaged copy could be).
          await rename(this.tempPath, this.targetPath);
        } catch (error) {
          if (!isErrno(error, 'ENOENT')) throw error;
          // First blob under this prefix. Whether this call or a concurrent one created
          // the directories, their entries must be durable before either promote resolves.
          await mkdir(leaf, { recursive: true });
          await rename(this.tempPath, this.targetPath);
          const fanOut = dirname(leaf);
          this.#dirsToSync.push(fanOut, dirname(fanOut), this.root);
        }
      }
      this.#moved = true;
    }
    // Kept until every sync succeeded, so a retried promote() finishes the job.
    await Promise.all(this.#dirsToSync.map(fsyncDirectory));
    this.#dirsToSync = [];
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

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return null;
    throw error;
  }
}

async function sortedEntries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
    throw error;
  }
}

function assertRange(range: ByteRange): void {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range ${start}-${end}`);
  }
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}
