import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BadRequestError, NotFoundError, PayloadTooLargeError, RangeNotSatisfiableError } from '@forge/core';
import { createLocalBlobStore, type LocalBlobStore } from '@forge/blob-store';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

async function* chunksOf(bytes: Uint8Array, chunkSize: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    yield bytes.subarray(offset, offset + chunkSize);
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** A source that counts what was pulled from it and whether it was told to stop. */
function countingSource(chunkCount: number, chunkSize: number) {
  const state = { pulled: 0, stopped: false };
  async function* generate(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < chunkCount; i++) {
        state.pulled++;
        yield Buffer.alloc(chunkSize, i);
      }
    } finally {
      state.stopped = state.pulled < chunkCount;
    }
  }
  return { source: generate(), state };
}

describe('LocalBlobStore', () => {
  let root: string;
  let store: LocalBlobStore;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'forge-blob-store-'));
    // A small write buffer makes every test cross buffer boundaries.
    store = createLocalBlobStore({ root, writeBufferSize: 1000, readBufferSize: 777 });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const stagingFiles = async () => (await readdir(join(root, 'tmp')).catch(() => [])).sort();
  const storedBlobs = async () => {
    const found: string[] = [];
    for await (const hash of store.list()) found.push(hash);
    return found;
  };

  it('stages, promotes and reads back a blob at its content address', async () => {
    const bytes = randomBytes(10_000);
    const hash = sha256(bytes);
    const staged = await store.stage(chunksOf(bytes, 333));
    expect(staged.sha256).toBe(hash);
    expect(staged.size).toBe(10_000);

    // Nothing is visible before promote().
    expect(await store.stat(hash)).toBeNull();
    await expect(store.open(hash)).rejects.toBeInstanceOf(NotFoundError);
    expect(await stagingFiles()).toHaveLength(1);

    await staged.promote();
    expect(await store.stat(hash)).toEqual({ size: 10_000 });
    expect(await readAll(await store.open(hash))).toEqual(bytes);
    expect(store.localPath(hash)).toBe(join(root, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash));
    expect(await readFile(store.localPath(hash))).toEqual(bytes);
    expect(await stagingFiles()).toEqual([]);
  });

  it('stores the empty blob', async () => {
    const staged = await store.stage(chunksOf(new Uint8Array(0), 1));
    expect(staged).toMatchObject({ sha256: sha256(new Uint8Array(0)), size: 0 });
    await staged.promote();
    expect(await readAll(await store.open(staged.sha256))).toHaveLength(0);
  });

  it('streams a Node Readable larger than both buffers with the default buffer sizes', async () => {
    const big = createLocalBlobStore({ root });
    const bytes = randomBytes(5 * 1024 * 1024 + 123);
    const staged = await big.stage(Readable.from(chunksOf(bytes, 64 * 1024)));
    expect(staged.sha256).toBe(sha256(bytes));
    await staged.promote();
    expect(sha256(await readAll(await big.open(staged.sha256)))).toBe(sha256(bytes));
  });

  describe('writing', () => {
    // FileHandle is not exported; take its prototype from an open handle.
    const fileHandlePrototype = async () => {
      const handle = await open(root, 'r');
      await handle.close();
      return Object.getPrototypeOf(handle) as { write: (...args: unknown[]) => Promise<unknown> };
    };
    afterEach(() => {
      vi.restoreAllMocks();
    });

    it('gathers small chunks into buffer-sized writes', async () => {
      const write = vi.spyOn(await fileHandlePrototype(), 'write');
      const bytes = randomBytes(10_000);
      const staged = await store.stage(chunksOf(bytes, 100));
      expect(write).toHaveBeenCalledTimes(10);
      await staged.promote();
      expect(await readAll(await store.open(staged.sha256))).toEqual(bytes);
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

  it('stores identical content once, and promote() is idempotent', async () => {
    const bytes = randomBytes(4096);
    const first = await store.stage(chunksOf(bytes, 1000));
    await first.promote();
    const second = await store.stage(chunksOf(bytes, 100));
    expect(second.sha256).toBe(first.sha256);
    await second.promote();
    await second.promote();
    await first.discard(); // a no-op after promote()
    expect(await storedBlobs()).toEqual([first.sha256]);
    expect(await readAll(await store.open(first.sha256))).toEqual(bytes);
    expect(await stagingFiles()).toEqual([]);
  });

  it('lets two concurrent uploads of the same bytes both succeed, leaving one blob', async () => {
    const bytes = randomBytes(50_000);
    // Interleave the two streams chunk by chunk, into a store whose fan-out directories
    // do not exist yet, so both promotes race on mkdir and rename.
    async function* slowly(chunkSize: number) {
      for await (const chunk of chunksOf(bytes, chunkSize)) {
        await new Promise((resolve) => setImmediate(resolve));
        yield chunk;
      }
    }
    const [a, b] = await Promise.all([store.stage(slowly(1024)), store.stage(slowly(1500))]);
    expect(await stagingFiles()).toHaveLength(2);
    await Promise.all([a.promote(), b.promote()]);
    expect(a.sha256).toBe(b.sha256);
    expect(await storedBlobs()).toEqual([a.sha256]);
    expect(await readAll(await store.open(a.sha256))).toEqual(bytes);
    expect(await stagingFiles()).toEqual([]);
  });

  it('discard() removes the staged bytes, is idempotent, and forbids a later promote()', async () => {
    const staged = await store.stage(chunksOf(randomBytes(3000), 1000));
    await staged.discard();
    await staged.discard();
    expect(await stagingFiles()).toEqual([]);
    await expect(staged.promote()).rejects.toThrow(/discarded/);
    expect(await storedBlobs()).toEqual([]);
  });

  describe('failed uploads leave nothing behind', () => {
    it('stops reading the source as soon as maxSize is exceeded', async () => {
      const { source, state } = countingSource(10, 1000);
      await expect(store.stage(source, { maxSize: 2500 })).rejects.toBeInstanceOf(PayloadTooLargeError);
      expect(state.pulled).toBe(3);
      expect(state.stopped).toBe(true);
      expect(await stagingFiles()).toEqual([]);
      expect(await storedBlobs()).toEqual([]);
    });

    it('accepts a body of exactly maxSize bytes', async () => {
      const { source } = countingSource(3, 1000);
      const staged = await store.stage(source, { maxSize: 3000 });
      expect(staged.size).toBe(3000);
      await staged.discard();
    });

    it('removes the staging file when the signal aborts while the source stalls', async () => {
      const controller = new AbortController();
      async function* stallsAfterTwoChunks(): AsyncGenerator<Uint8Array> {
        yield Buffer.alloc(1500, 1);
        yield Buffer.alloc(1500, 2);
        setTimeout(() => controller.abort(new Error('client went away')), 10);
        await new Promise(() => {}); // never sends the rest
      }
      await expect(store.stage(stallsAfterTwoChunks(), { signal: controller.signal })).rejects.toThrow('client went away');
      expect(await stagingFiles()).toEqual([]);
      expect(await storedBlobs()).toEqual([]);
    });

    it('aborts while chunks keep arriving', async () => {
      const controller = new AbortController();
      const { source, state } = countingSource(100, 500);
      async function* abortAfterFive() {
        let n = 0;
        for await (const chunk of source) {
          if (++n === 5) controller.abort();
          yield chunk;
        }
      }
      const rejection = await store.stage(abortAfterFive(), { signal: controller.signal }).catch((error: unknown) => error);
      expect((rejection as Error).name).toBe('AbortError');
      expect(state.pulled).toBeLessThan(10);
      expect(state.stopped).toBe(true);
      expect(await stagingFiles()).toEqual([]);
    });

    it('rejects an already aborted signal without creating a staging file', async () => {
      const { source, state } = countingSource(3, 10);
      await expect(store.stage(source, { signal: AbortSignal.abort() })).rejects.toThrow();
      expect(state.pulled).toBe(0);
      expect(await stagingFiles()).toEqual([]);
    });

    it('removes the staging file when the source throws midway', async () => {
      async function* failsMidway(): AsyncGenerator<Uint8Array> {
        yield Buffer.alloc(2500, 1);
        yield Buffer.alloc(2500, 2);
        throw new Error('connection reset');
      }
      await expect(store.stage(failsMidway())).rejects.toThrow('connection reset');
      expect(await stagingFiles()).toEqual([]);
      expect(await storedBlobs()).toEqual([]);
    });

    it('rejects a source that yields strings', async () => {
      async function* text() {
        yield 'not bytes' as unknown as Uint8Array;
      }
      await expect(store.stage(text())).rejects.toBeInstanceOf(TypeError);
      expect(await stagingFiles()).toEqual([]);
    });
  });

  describe('ranged reads', () => {
    const bytes = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    let hash: string;
    beforeEach(async () => {
      const staged = await store.stage(chunksOf(bytes, 700));
      await staged.promote();
      hash = staged.sha256;
    });
    const read = async (start: number, end: number) => readAll(await store.open(hash, { start, end }));

    it('reads the first byte, the last byte and a middle range (inclusive ends)', async () => {
      expect(await read(0, 0)).toEqual(bytes.subarray(0, 1));
      expect(await read(4999, 4999)).toEqual(bytes.subarray(4999));
      expect(await read(1234, 3456)).toEqual(bytes.subarray(1234, 3457));
      expect(await read(0, 4999)).toEqual(bytes);
    });

    it('treats an end past the last byte as "to the end", as HTTP does', async () => {
      expect(await read(4990, 1_000_000)).toEqual(bytes.subarray(4990));
    });

    it('rejects a start past the last byte as not satisfiable', async () => {
      const error = await store.open(hash, { start: 5000, end: 5001 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RangeNotSatisfiableError);
      expect((error as RangeNotSatisfiableError).headers['Content-Range']).toBe('bytes */5000');
    });

    it('rejects malformed ranges', async () => {
      await expect(store.open(hash, { start: 10, end: 9 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.open(hash, { start: -1, end: 9 })).rejects.toBeInstanceOf(RangeError);
      await expect(store.open(hash, { start: 0.5, end: 9 })).rejects.toBeInstanceOf(RangeError);
    });
  });

  it('rejects anything but 64 lowercase hex characters as a key', async () => {
    const valid = 'a'.repeat(64);
    const invalid = [
      valid.toUpperCase(),
      'a'.repeat(63),
      'a'.repeat(65),
      `../../${'a'.repeat(58)}`,
      `${'a'.repeat(62)}/a`,
      `${'a'.repeat(63)}\0`,
      '',
    ];
    for (const key of invalid) {
      await expect(store.stat(key)).rejects.toBeInstanceOf(BadRequestError);
      await expect(store.open(key)).rejects.toBeInstanceOf(BadRequestError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(BadRequestError);
      expect(() => store.localPath(key)).toThrow(BadRequestError);
    }
    expect(await store.stat(valid)).toBeNull();
  });

  it('lists stored blobs in ascending order, skipping staging and stray files, and deletes them', async () => {
    const hashes: string[] = [];
    for (let i = 0; i < 5; i++) {
      const staged = await store.stage(chunksOf(randomBytes(100), 40));
      await staged.promote();
      hashes.push(staged.sha256);
    }
    const pending = await store.stage(chunksOf(randomBytes(100), 40)); // staged, never promoted
    await writeFile(join(root, 'blobs', 'README'), 'not a blob');
    await mkdir(join(root, 'blobs', 'zz', '00'), { recursive: true });
    await writeFile(join(root, 'blobs', 'zz', '00', 'f'.repeat(64)), 'wrong prefix');
    expect(await storedBlobs()).toEqual([...hashes].sort());

    await store.delete(hashes[2]);
    await store.delete(hashes[2]); // absent is not an error
    expect(await store.stat(hashes[2])).toBeNull();
    await expect(store.open(hashes[2])).rejects.toBeInstanceOf(NotFoundError);
    expect(await storedBlobs()).toEqual(hashes.filter((_, i) => i !== 2).sort());
    await pending.discard();
  });

  it('lists nothing in a store that was never written', async () => {
    expect(await storedBlobs()).toEqual([]);
  });

  it('cleanupStaging removes old leftovers but spares recent files and uploads in flight', async () => {
    const staging = join(root, 'tmp');
    await mkdir(staging, { recursive: true });
    const hourAgo = new Date(Date.now() - 3600_000);
    await writeFile(join(staging, 'crashed.tmp'), 'left by a crash');
    await utimes(join(staging, 'crashed.tmp'), hourAgo, hourAgo);
    await writeFile(join(staging, 'recent.tmp'), 'another process is writing this');

    const inFlight = await store.stage(chunksOf(randomBytes(100), 50));
    const [inFlightName] = (await stagingFiles()).filter((name) => !['crashed.tmp', 'recent.tmp'].includes(name));
    await utimes(join(staging, inFlightName), hourAgo, hourAgo);

    expect(await store.cleanupStaging(60_000)).toBe(1);
    expect(await stagingFiles()).toEqual([inFlightName, 'recent.tmp'].sort());
    await inFlight.promote();
    expect(await store.stat(inFlight.sha256)).toEqual({ size: 100 });

    // A new instance (a restarted server) knows of no uploads in flight.
    expect(await createLocalBlobStore({ root }).cleanupStaging(0)).toBe(1);
    expect(await stagingFiles()).toEqual([]);
    expect(await createLocalBlobStore({ root: join(root, 'fresh') }).cleanupStaging(0)).toBe(0);
  });

  it('keeps blobs written by one instance readable by another over the same root', async () => {
    const staged = await store.stage(chunksOf(Buffer.from('hello'), 2));
    await staged.promote();
    const other = createLocalBlobStore({ root });
    expect((await readAll(await other.open(staged.sha256))).toString()).toBe('hello');
    expect((await stat(other.localPath(staged.sha256))).size).toBe(5);
  });
});
