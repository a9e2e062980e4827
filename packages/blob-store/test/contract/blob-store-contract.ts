/**
 * The BlobStore contract (packages/core/src/blob-store.ts, docs/blob-store.md) as one
 * suite, run against every store: the local filesystem (test/unit) and S3 against a real
 * S3-protocol server on loopback (test/integration).
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError, NotFoundError, PayloadTooLargeError, RangeNotSatisfiableError, type BlobStore } from '@forge/core';

export interface ContractSubject {
  store: BlobStore;
  /** The local staging directory (both stores stage uploads on local disk). */
  stagingDir: string;
  /** A second store over the same storage (another process, or a restarted one). */
  reopen(): BlobStore;
  /** A blob of this size goes through the store's large-object path (S3: multipart). */
  largeSize: number;
  close(): Promise<void>;
}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export async function* chunksOf(bytes: Uint8Array, chunkSize: number): AsyncGenerator<Uint8Array> {
  for (let offset = 0; offset < bytes.length; offset += chunkSize) {
    yield bytes.subarray(offset, offset + chunkSize);
  }
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** A source that counts what was pulled from it and whether it was told to stop. */
export function countingSource(chunkCount: number, chunkSize: number) {
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

export async function storedBlobs(store: BlobStore): Promise<string[]> {
  const found: string[] = [];
  for await (const hash of store.list()) found.push(hash);
  return found;
}

export function describeBlobStoreContract(name: string, setup: () => Promise<ContractSubject>): void {
  describe(`BlobStore contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: BlobStore;

    beforeEach(async () => {
      subject = await setup();
      store = subject.store;
    });
    afterEach(async () => {
      await subject.close();
    });

    const stagingFiles = async () => (await readdir(subject.stagingDir).catch(() => [])).sort();

    it('passes its start-up check', async () => {
      await store.check();
    });

    it('stages, promotes and reads back a blob at its content address', async () => {
      const bytes = randomBytes(10_000);
      const hash = sha256(bytes);
      const staged = await store.stage(chunksOf(bytes, 333));
      expect(staged.sha256).toBe(hash);
      expect(staged.size).toBe(10_000);

      // Nothing is stored before promote().
      expect(await store.stat(hash)).toBeNull();
      await expect(store.open(hash)).rejects.toBeInstanceOf(NotFoundError);
      expect(await stagingFiles()).toHaveLength(1);

      const before = Date.now();
      await staged.promote();
      const info = await store.stat(hash);
      expect(info?.size).toBe(10_000);
      // Second resolution on S3: the modification time is within a second or two of now.
      expect(Math.abs(info!.modifiedMs - before)).toBeLessThan(5_000);
      expect(await readAll(await store.open(hash))).toEqual(bytes);
      // The staged copy stays until discard(), so a promote can be repeated.
      expect(await stagingFiles()).toHaveLength(1);
      await staged.discard();
      expect(await stagingFiles()).toEqual([]);
      expect(await readAll(await store.open(hash))).toEqual(bytes);
    });

    it('computes md5, sha1 and sha512 while staging only when asked to', async () => {
      const bytes = randomBytes(50_000);
      const plain = await store.stage(chunksOf(bytes, 777));
      expect(plain.digests).toBeUndefined();
      await plain.discard();
      const staged = await store.stage(chunksOf(bytes, 777), { extraDigests: true });
      const hex = (algorithm: string) => createHash(algorithm).update(bytes).digest('hex');
      expect(staged.digests).toEqual({ md5: hex('md5'), sha1: hex('sha1'), sha512: hex('sha512') });
      expect(staged.sha256).toBe(hex('sha256'));
      await staged.discard();
    });

    it('stores the empty blob', async () => {
      const staged = await store.stage(chunksOf(new Uint8Array(0), 1));
      expect(staged).toMatchObject({ sha256: sha256(new Uint8Array(0)), size: 0 });
      await staged.promote();
      await staged.discard();
      expect(await store.stat(staged.sha256)).toMatchObject({ size: 0 });
      expect(await readAll(await store.open(staged.sha256))).toHaveLength(0);
    });

    it('streams a Node Readable through the large-object path and reads it back whole and in ranges', async () => {
      const bytes = randomBytes(subject.largeSize);
      const staged = await store.stage(Readable.from(chunksOf(bytes, 64 * 1024)));
      expect(staged.sha256).toBe(sha256(bytes));
      await staged.promote();
      await staged.discard();
      expect(sha256(await readAll(await store.open(staged.sha256)))).toBe(sha256(bytes));
      const start = subject.largeSize - 1_000_123;
      expect(await readAll(await store.open(staged.sha256, { start, end: subject.largeSize + 10 }))).toEqual(bytes.subarray(start));
    });

    it('stores identical content once, and promote() is idempotent', async () => {
      const bytes = randomBytes(4096);
      const first = await store.stage(chunksOf(bytes, 1000));
      await first.promote();
      const second = await store.stage(chunksOf(bytes, 100));
      expect(second.sha256).toBe(first.sha256);
      await second.promote();
      await second.promote();
      await Promise.all([first.discard(), second.discard()]);
      expect(await storedBlobs(store)).toEqual([first.sha256]);
      expect(await readAll(await store.open(first.sha256))).toEqual(bytes);
      expect(await stagingFiles()).toEqual([]);
    });

    it('lets two concurrent uploads of the same bytes both succeed, leaving one blob', async () => {
      const bytes = randomBytes(50_000);
      async function* slowly(chunkSize: number) {
        for await (const chunk of chunksOf(bytes, chunkSize)) {
          await new Promise((resolve) => setImmediate(resolve));
          yield chunk;
        }
      }
      const [a, b] = await Promise.all([store.stage(slowly(1024)), store.stage(slowly(1500))]);
      expect(await stagingFiles()).toHaveLength(2);
      await Promise.all([a.promote(), b.promote()]);
      await Promise.all([a.discard(), b.discard()]);
      expect(a.sha256).toBe(b.sha256);
      expect(await storedBlobs(store)).toEqual([a.sha256]);
      expect(await readAll(await store.open(a.sha256))).toEqual(bytes);
      expect(await stagingFiles()).toEqual([]);
    });

    it('promotes again after the stored blob was deleted, from the staged copy', async () => {
      const bytes = randomBytes(2000);
      const staged = await store.stage(chunksOf(bytes, 500));
      await staged.promote();
      await store.delete(staged.sha256);
      expect(await store.stat(staged.sha256)).toBeNull();
      await staged.promote();
      expect(await readAll(await store.open(staged.sha256))).toEqual(bytes);
      await staged.discard();
    });

    it('discard() removes the staged bytes, is idempotent, and forbids a later promote()', async () => {
      const staged = await store.stage(chunksOf(randomBytes(3000), 1000));
      await staged.discard();
      await staged.discard();
      expect(await stagingFiles()).toEqual([]);
      await expect(staged.promote()).rejects.toThrow(/discarded/);
      expect(await storedBlobs(store)).toEqual([]);
    });

    describe('failed uploads leave nothing behind', () => {
      it('stops reading the source as soon as maxSize is exceeded', async () => {
        const { source, state } = countingSource(10, 1000);
        await expect(store.stage(source, { maxSize: 2500 })).rejects.toBeInstanceOf(PayloadTooLargeError);
        expect(state.pulled).toBe(3);
        expect(state.stopped).toBe(true);
        expect(await stagingFiles()).toEqual([]);
        expect(await storedBlobs(store)).toEqual([]);
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
        expect(await storedBlobs(store)).toEqual([]);
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
        expect(await storedBlobs(store)).toEqual([]);
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
        await staged.discard();
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

      it('answers NotFoundError for a range of a missing blob', async () => {
        await expect(store.open('e'.repeat(64), { start: 0, end: 9 })).rejects.toBeInstanceOf(NotFoundError);
      });
    });

    it('rejects anything but 64 lowercase hex characters as a key', async () => {
      const valid = 'a'.repeat(64);
      const invalid = [valid.toUpperCase(), 'a'.repeat(63), 'a'.repeat(65), `../../${'a'.repeat(58)}`, `${'a'.repeat(62)}/a`, `${'a'.repeat(63)}\0`, ''];
      for (const key of invalid) {
        await expect(store.stat(key)).rejects.toBeInstanceOf(BadRequestError);
        await expect(store.open(key)).rejects.toBeInstanceOf(BadRequestError);
        await expect(store.delete(key)).rejects.toBeInstanceOf(BadRequestError);
        await expect(store.presignGet(key, { expiresInSeconds: 60 })).rejects.toBeInstanceOf(BadRequestError);
      }
      expect(await store.stat(valid)).toBeNull();
    });

    it('lists stored blobs in ascending order with their sizes and times, and deletes them', async () => {
      const hashes: string[] = [];
      for (let i = 0; i < 5; i++) {
        const staged = await store.stage(chunksOf(randomBytes(100 + i), 40));
        await staged.promote();
        await staged.discard();
        hashes.push(staged.sha256);
      }
      const pending = await store.stage(chunksOf(randomBytes(100), 40)); // staged, never promoted
      expect(await storedBlobs(store)).toEqual([...hashes].sort());
      const entries = [];
      for await (const entry of store.entries()) entries.push(entry);
      expect(entries.map((e) => e.sha256)).toEqual([...hashes].sort());
      for (const entry of entries) {
        expect(entry.size).toBe(100 + hashes.indexOf(entry.sha256));
        expect(Math.abs(entry.modifiedMs - Date.now())).toBeLessThan(60_000);
      }

      await store.delete(hashes[2]!);
      await store.delete(hashes[2]!); // absent is not an error
      expect(await store.stat(hashes[2]!)).toBeNull();
      await expect(store.open(hashes[2]!)).rejects.toBeInstanceOf(NotFoundError);
      expect(await storedBlobs(store)).toEqual(hashes.filter((_, i) => i !== 2).sort());
      await pending.discard();
    });

    it('lists nothing in a store that was never written', async () => {
      expect(await storedBlobs(store)).toEqual([]);
    });

    it('sweepStaging removes old leftovers but spares recent files and uploads in flight', async () => {
      await mkdir(subject.stagingDir, { recursive: true });
      const hourAgo = new Date(Date.now() - 3600_000);
      await writeFile(join(subject.stagingDir, 'crashed.tmp'), 'left by a crash');
      await utimes(join(subject.stagingDir, 'crashed.tmp'), hourAgo, hourAgo);
      await writeFile(join(subject.stagingDir, 'recent.tmp'), 'another process is writing this');

      const inFlight = await store.stage(chunksOf(randomBytes(100), 50));
      const [inFlightName] = (await stagingFiles()).filter((n) => !['crashed.tmp', 'recent.tmp'].includes(n));
      await utimes(join(subject.stagingDir, inFlightName!), hourAgo, hourAgo);

      expect(await store.sweepStaging(60_000)).toBe(1);
      expect(await stagingFiles()).toEqual([inFlightName, 'recent.tmp'].sort());
      await inFlight.promote();
      await inFlight.discard();
      expect(await store.stat(inFlight.sha256)).toMatchObject({ size: 100 });

      // Another instance (a restarted server) knows of no uploads in flight.
      expect(await subject.reopen().sweepStaging(0)).toBe(1);
      expect(await stagingFiles()).toEqual([]);
    });

    it('keeps blobs written by one instance readable by another over the same storage', async () => {
      const staged = await store.stage(chunksOf(Buffer.from('hello'), 2));
      await staged.promote();
      await staged.discard();
      const other = subject.reopen();
      expect((await readAll(await other.open(staged.sha256))).toString()).toBe('hello');
      expect(await other.stat(staged.sha256)).toMatchObject({ size: 5 });
    });
  });
}
