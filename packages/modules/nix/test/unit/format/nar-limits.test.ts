/**
 * The verifier's work and memory stay bounded whatever a NAR holds (issue 16, item 2):
 * a NAR of millions of empty files used to build its whole listing in the heap.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import {
  LISTING_HIGH_WATER,
  NAR_MAX_ENTRIES,
  NAR_MAX_LISTING_BYTES,
  NarLimitError,
  NarParser,
  SizeLimitError,
  createNarVerifier,
  parseListing,
} from '../../../src/format/index.js';
import { MAGIC, nar } from './nar-builder.js';
import { manyEmptyFiles } from './many-files.js';

function symlinkEntry(i: number, target: string): Uint8Array {
  return nar('entry', '(', 'name', `f${String(i).padStart(7, '0')}`, 'node', '(', 'type', 'symlink', 'target', target, ')', ')');
}

/** The V8 garbage collector, to measure what is retained rather than what is not yet collected. */
function gc(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('NAR structure limits', () => {
  it('has generous named defaults', () => {
    expect(NAR_MAX_ENTRIES).toBe(2_000_000);
    expect(NAR_MAX_LISTING_BYTES).toBe(256 * 1024 * 1024);
  });

  it('refuses a NAR with more entries than maxEntries, with a typed 413-class error', () => {
    const parser = new NarParser({ maxEntries: 1000 });
    let error: unknown;
    try {
      for (const chunk of manyEmptyFiles(1000)) parser.write(chunk);
    } catch (err) {
      error = err;
    }
    // 1000 files and the root directory: 1001 nodes.
    expect(error).toBeInstanceOf(NarLimitError);
    expect(error).toBeInstanceOf(SizeLimitError);
    expect(error).toMatchObject({ limitName: 'maxEntries', limit: 1000 });
    expect((error as Error).message).toBe('the NAR holds more than 1000 files, directories and symlinks, the most this cache accepts');
    // The root and 999 files are fine.
    const ok = new NarParser({ maxEntries: 1000 });
    for (const chunk of manyEmptyFiles(999)) ok.write(chunk);
    expect(ok.end().entryCount).toBe(1000);
  });

  it('refuses a listing larger than maxListingBytes (names that escape six-fold count)', () => {
    // A target of control characters: 100 bytes in the NAR, 600 in the listing.
    const target = '\x01'.repeat(100);
    const chunks = [...manyEmptyFiles(0)];
    const listing: Uint8Array[] = [];
    const parser = new NarParser({ maxListingBytes: 5000, onListing: (c) => listing.push(c) });
    parser.write(chunks[0]!);
    let error: unknown;
    try {
      for (let i = 0; i < 20; i++) parser.write(symlinkEntry(i, target));
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NarLimitError);
    expect(error).toMatchObject({ limitName: 'maxListingBytes', limit: 5000 });
    expect((error as Error).message).toBe("the NAR's file listing would exceed 5000 bytes, the most this cache accepts");
  });

  it('streams the listing while the NAR is parsed, never holding it', async () => {
    const count = 200_000;
    const listing: Uint8Array[] = [];
    let chunksBeforeEnd = 0;
    let ended = false;
    const verifier = createNarVerifier({
      compression: 'none',
      onListing: (chunk) => {
        listing.push(chunk);
        if (!ended) chunksBeforeEnd++;
      },
    });
    for (const chunk of manyEmptyFiles(count)) await verifier.write(chunk);
    ended = true;
    const result = await verifier.end();
    expect(result.entryCount).toBe(count + 1);
    // Chunks of 64 KiB leave as the parse goes, all but the last before end().
    expect(chunksBeforeEnd).toBe(listing.length - 1);
    expect(listing.length).toBeGreaterThan(100);
    const bytes = Buffer.concat(listing);
    expect(result.listingSize).toBe(bytes.length);
    const parsed = parseListing(bytes);
    expect(parsed.root.type === 'directory' && parsed.root.entries.size).toBe(count);
  });

  it('holds the decoder while a slow consumer has not taken the listing (backpressure)', async () => {
    let release: () => void = () => {};
    let delivered = 0;
    let gate: Promise<void> | undefined = new Promise((resolve) => (release = resolve));
    const verifier = createNarVerifier({
      compression: 'none',
      onListing: async (chunk) => {
        if (gate) await gate;
        delivered += chunk.length;
      },
    });
    const chunks = [...manyEmptyFiles(100_000)];
    let written = 0;
    const writing = (async () => {
      for (const chunk of chunks) {
        await verifier.write(chunk);
        written++;
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Once a 64 KiB chunk of listing is out, writes wait for the consumer, however long.
    const stalledAt = written;
    expect(stalledAt).toBeLessThan(chunks.length / 10);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(written).toBe(stalledAt);
    expect(delivered).toBe(0);
    gate = undefined;
    release();
    await writing;
    const result = await verifier.end();
    expect(delivered).toBe(result.listingSize);
    expect(LISTING_HIGH_WATER).toBe(1024 * 1024);
  });

  it('keeps memory O(depth): a million entries retain no listing in the heap', async () => {
    // The attack, scaled down: 6 M empty files took the heap to 4 GB. A tree of a
    // million nodes costs well over 100 MB as objects; streaming retains a few chunks.
    const count = 1_000_000;
    gc();
    const before = process.memoryUsage().heapUsed;
    let retainedMidway = Number.POSITIVE_INFINITY;
    let chunks = 0;
    const verifier = createNarVerifier({
      compression: 'none',
      onListing: () => {
        if (++chunks === 600) {
          gc();
          retainedMidway = process.memoryUsage().heapUsed - before;
        }
      },
    });
    for (const chunk of manyEmptyFiles(count)) await verifier.write(chunk);
    const result = await verifier.end();
    expect(result.entryCount).toBe(count + 1);
    expect(chunks).toBeGreaterThan(600);
    expect(retainedMidway).toBeLessThan(32 * 1024 * 1024);
  }, 60_000);
});
