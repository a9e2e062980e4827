import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BadRequestError } from '@forge/core';
import { createLocalBlobStore, type LocalBlobStore } from '@forge/blob-store';
import { chunksOf, countingSource, describeBlobStoreContract, readAll, sha256, storedBlobs } from '../contract/blob-store-contract.js';

describeBlobStoreContract('local filesystem', async () => {
  const root = await mkdtemp(join(tmpdir(), 'forge-blob-store-'));
  return {
    // A small write buffer makes every test cross buffer boundaries.
    store: createLocalBlobStore({ root, writeBufferSize: 1000, readBufferSize: 777 }),
    stagingDir: join(root, 'tmp'),
    reopen: () => createLocalBlobStore({ root }),
    largeSize: 5 * 1024 * 1024 + 123,
    close: () => rm(root, { recursive: true, force: true }),
  };
});

describe('LocalBlobStore', () => {
  let root: string;
  let store: LocalBlobStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'forge-blob-store-'));
    store = createLocalBlobStore({ root, writeBufferSize: 1000, readBufferSize: 777 });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(root, { recursive: true, force: true });
  });

  const stagingFiles = async () => (await readdir(join(root, 'tmp')).catch(() => [])).sort();

  it('keeps blobs at blobs/aa/bb/<sha256>, hard-linked from staging until discard()', async () => {
    const bytes = randomBytes(10_000);
    const hash = sha256(bytes);
    const staged = await store.stage(chunksOf(bytes, 333));
    await staged.promote();
    expect(store.localPath(hash)).toBe(join(root, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash));
    expect(await readFile(store.localPath(hash))).toEqual(bytes);
    expect((await stat(store.localPath(hash))).nlink).toBe(2);
    await staged.discard();
    expect((await stat(store.localPath(hash))).nlink).toBe(1);
    expect(await stagingFiles()).toEqual([]);
    expect(await store.presignGet(hash)).toBeNull();
  });

  it('replaces a damaged copy (wrong size) at the content address atomically', async () => {
    const bytes = randomBytes(3000);
    const hash = sha256(bytes);
    await mkdir(join(root, 'blobs', hash.slice(0, 2), hash.slice(2, 4)), { recursive: true });
    await writeFile(store.localPath(hash), 'truncated');
    const staged = await store.stage(chunksOf(bytes, 1000));
    await staged.promote();
    expect(await readFile(store.localPath(hash))).toEqual(bytes);
    await staged.discard();
    expect(await stagingFiles()).toEqual([]);
  });

  it('skips stray names when listing', async () => {
    const staged = await store.stage(chunksOf(randomBytes(100), 40));
    await staged.promote();
    await staged.discard();
    await writeFile(join(root, 'blobs', 'README'), 'not a blob');
    await mkdir(join(root, 'blobs', 'zz', '00'), { recursive: true });
    await writeFile(join(root, 'blobs', 'zz', '00', 'f'.repeat(64)), 'wrong prefix');
    expect(await storedBlobs(store)).toEqual([staged.sha256]);
  });

  it('rejects invalid keys for localPath too', () => {
    expect(() => store.localPath('A'.repeat(64))).toThrow(BadRequestError);
    expect(() => store.localPath(`../${'a'.repeat(61)}`)).toThrow(BadRequestError);
  });

  describe('writing', () => {
    // FileHandle is not exported; take its prototype from an open handle.
    const fileHandlePrototype = async () => {
      const handle = await open(root, 'r');
      await handle.close();
      return Object.getPrototypeOf(handle) as { write: (...args: unknown[]) => Promise<unknown> };
    };

    it('gathers small chunks into buffer-sized writes', async () => {
      const write = vi.spyOn(await fileHandlePrototype(), 'write');
      const bytes = randomBytes(10_000);
      const staged = await store.stage(chunksOf(bytes, 100));
      expect(write).toHaveBeenCalledTimes(10);
      await staged.promote();
      expect(await readAll(await store.open(staged.sha256))).toEqual(bytes);
      await staged.discard();
    });

    it('does not pull the source faster than the disk writes', async () => {
      const prototype = await fileHandlePrototype();
      const original = prototype.write;
      const held: Array<() => void> = [];
      vi.spyOn(prototype, 'write').mockImplementation(function (this: unknown, ...args: unknown[]) {
        return new Promise<void>((resolve) => held.push(resolve)).then(() => original.apply(this, args));
      });
      const { source, state } = countingSource(20, 1000); // one chunk fills one write buffer
      const staging = store.stage(source);
      const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

      await settle();
      // One buffer is being written, the next one is full: nothing more is read.
      expect(state.pulled).toBe(2);
      expect(held).toHaveLength(1);
      held.shift()!();
      await settle();
      expect(state.pulled).toBe(3);
      expect(held).toHaveLength(1);

      vi.mocked(prototype.write).mockRestore();
      held.shift()!();
      const staged = await staging;
      expect(staged.size).toBe(20_000);
      await staged.discard();
    });
  });

  it('fails its start-up check when the root cannot be written', async () => {
    await writeFile(join(root, 'file'), 'x');
    const broken = createLocalBlobStore({ root: join(root, 'file', 'below') });
    await expect(broken.check()).rejects.toThrow(/not writable/);
  });
});
