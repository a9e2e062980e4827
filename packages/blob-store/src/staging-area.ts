import { randomBytes } from 'node:crypto';
import { lstat, mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobDigests, StageOptions } from '@forge/core';
import { streamToFile } from './stream-to-file.js';

/** A fully written, fdatasynced and hashed staging file. */
export interface StagingFile {
  readonly name: string;
  readonly path: string;
  readonly sha256: string;
  readonly size: number;
  readonly digests?: BlobDigests;
}

const STAGING_SUFFIX = '.tmp';

/**
 * The staging directory both stores write uploads into (`<root>/tmp/`): a staging file is
 * created with O_EXCL, filled by streamToFile (hashing, size limit, abort, backpressure),
 * fdatasynced, and removed on any failure. The area remembers the files of this process
 * that are still in use, so that sweep() spares them whatever their age, and removes a
 * file whose owner object was dropped without being released (a caller's bug).
 */
export class StagingArea {
  readonly dir: string;
  readonly #bufferSize: number;
  /** Staging files of this process not yet released; sweep() spares them. */
  readonly #live = new Set<string>();
  readonly #abandoned = new FinalizationRegistry<string>((name) => {
    this.#live.delete(name);
    rm(join(this.dir, name), { force: true }).catch(() => {});
  });

  constructor(dir: string, bufferSize: number) {
    this.dir = dir;
    this.#bufferSize = bufferSize;
  }

  async write(source: AsyncIterable<Uint8Array>, options: StageOptions = {}): Promise<StagingFile> {
    const { maxSize, signal, extraDigests } = options;
    if (maxSize !== undefined && !(Number.isSafeInteger(maxSize) && maxSize >= 0)) {
      throw new RangeError(`maxSize must be a non-negative integer, got ${maxSize}`);
    }
    signal?.throwIfAborted();
    const name = randomBytes(16).toString('hex') + STAGING_SUFFIX;
    const path = join(this.dir, name);
    this.#live.add(name);
    let file: FileHandle | undefined;
    try {
      file = await this.#create(path);
      const { sha256, size, digests } = await streamToFile(source, file, { maxSize, signal, bufferSize: this.#bufferSize, extraDigests });
      await file.close();
      return { name, path, sha256, size, digests };
    } catch (error) {
      await file?.close().catch(() => {});
      await rm(path, { force: true }).catch(() => {});
      this.#live.delete(name);
      throw error;
    }
  }

  /** Ties the file's lifetime to `owner`: if it is garbage-collected unreleased, the file goes. */
  track(owner: object, file: StagingFile): void {
    this.#abandoned.register(owner, file.name, owner);
  }

  /** The owner is done with the file: it is removed, and no longer spared by sweep(). */
  async release(owner: object, file: StagingFile): Promise<void> {
    this.#abandoned.unregister(owner);
    this.#live.delete(file.name);
    await rm(file.path, { force: true });
  }

  /**
   * Removes entries last modified more than `olderThanMs` ago, sparing this process's
   * files whatever their age (a running upload's mtime advances with every write, so only
   * stalled or abandoned ones of other processes are old). Returns how many went.
   */
  async sweep(olderThanMs: number): Promise<number> {
    if (!(olderThanMs >= 0)) throw new RangeError(`olderThanMs must be >= 0, got ${olderThanMs}`);
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for (const name of await sortedEntries(this.dir)) {
      if (this.#live.has(name)) continue;
      const path = join(this.dir, name);
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

  /** Creates the directory if needed and checks that files can be made in it. */
  async check(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const probe = join(this.dir, `check-${randomBytes(8).toString('hex')}${STAGING_SUFFIX}`);
    const handle = await open(probe, 'wx');
    await handle.close();
    await rm(probe, { force: true });
  }

  async #create(path: string): Promise<FileHandle> {
    try {
      return await open(path, 'wx');
    } catch (error) {
      if (!isErrno(error, 'ENOENT')) throw error;
      await mkdir(this.dir, { recursive: true });
      return await open(path, 'wx');
    }
  }
}

export async function sortedEntries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (error) {
    if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return [];
    throw error;
  }
}

export function isErrno(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;
}

/** Serialises a staged blob's promote and discard calls, so a retried promote waits for the last one. */
export class Serializer {
  #busy: Promise<void> | null = null;

  run(operation: () => Promise<void>): Promise<void> {
    const previous = this.#busy ?? Promise.resolve();
    const current = previous.then(operation, operation);
    const tracked = current.finally(() => {
      if (this.#busy === tracked) this.#busy = null;
    });
    tracked.catch(() => {});
    this.#busy = tracked;
    return current;
  }
}
