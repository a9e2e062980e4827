import { describe, expect, it } from 'vitest';
import {
  HashPartCollector,
  NAR_MAX_REFERENCE_CANDIDATES,
  NIX32_ALPHABET,
  createNarVerifier,
  packHashParts,
  scanNarForHashParts,
  unpackHashParts,
} from '../../../src/format/index.js';
import { chunked, fixture, hashPath, narFiles, paths, prng } from './fixtures.js';

const hashOf = (path: string): string => path.slice('/nix/store/'.length, '/nix/store/'.length + 32);

/** Every 32-byte window of Nix32 digits, the definition `RefScanSink` implements. */
function naiveCandidates(bytes: Uint8Array): Set<string> {
  const out = new Set<string>();
  const text = Buffer.from(bytes).toString('latin1');
  let run = 0;
  for (let i = 0; i < text.length; i++) {
    run = NIX32_ALPHABET.includes(text[i]!) ? run + 1 : 0;
    if (run >= 32) out.add(text.slice(i - 31, i + 1));
  }
  return out;
}

function collect(chunks: Iterable<Uint8Array>, max?: number): { hashParts: readonly string[]; complete: boolean } {
  const collector = new HashPartCollector(max);
  for (const chunk of chunks) collector.write(chunk);
  return collector.result();
}

function randomHashPart(rand: () => number): string {
  return Array.from({ length: 32 }, () => NIX32_ALPHABET[Math.floor(rand() * 32)]).join('');
}

/** Binary noise with store paths, Nix32 runs longer than 32, periodic runs and near misses planted in it. */
function plantedData(seed: number, size: number): { bytes: Buffer; planted: string[] } {
  const rand = prng(seed);
  const bytes = Buffer.alloc(size);
  for (let i = 0; i < size; i++) bytes[i] = Math.floor(rand() * 256);
  const planted: string[] = [];
  // Each text in its own slot of the buffer, so that none overwrites another.
  const slot = Math.floor(size / 45);
  let next = 0;
  const plant = (text: string): void => {
    const at = next * slot + Math.floor(rand() * (slot - text.length));
    next++;
    bytes.write(text, at, 'latin1');
  };
  for (let k = 0; k < 40; k++) {
    const part = randomHashPart(rand);
    planted.push(part);
    plant(`/nix/store/${part}-name-${k}`);
  }
  plant('a'.repeat(500)); // one repeated digit
  plant('ab'.repeat(100)); // two alternating windows
  plant(randomHashPart(rand) + randomHashPart(rand)); // 33 windows in one run
  plant(`${randomHashPart(rand).slice(0, 31)}e`); // 31 digits then a non-digit: no window
  return { bytes, planted };
}

describe('HashPartCollector', () => {
  it('finds the references of a path Nix 2.8 built (its own hash and the one it refers to)', async () => {
    const refNar = fixture(`cache-none/nar/${hashPath.find((h) => h.path === paths.ref)!.nix32}.nar`);
    const { hashParts, complete } = collect([refNar]);
    expect(complete).toBe(true);
    expect(hashParts).toContain(hashOf(paths.tree));
    expect(hashParts).toContain(hashOf(paths.ref));
    // …and it comes out of the verifier's facts the same way.
    const verifier = createNarVerifier({ compression: 'none' });
    await verifier.write(refNar);
    expect((await verifier.end()).referenceCandidates).toEqual({ hashParts, complete: true });
  });

  it.each(narFiles('none'))('%s: equals the naive definition, in any chunking', (file) => {
    const bytes = fixture(file);
    const expected = [...naiveCandidates(bytes)].sort();
    expect(collect([bytes])).toEqual({ hashParts: expected, complete: true });
    expect(collect(chunked(bytes, () => 1))).toEqual({ hashParts: expected, complete: true });
    const rand = prng(bytes.length);
    expect(collect(chunked(bytes, () => Math.floor(rand() * 70)))).toEqual({ hashParts: expected, complete: true });
  });

  it('finds windows across chunk boundaries, inside longer runs and between repeated digits', () => {
    for (let seed = 1; seed <= 8; seed++) {
      const { bytes, planted } = plantedData(seed, 40_000);
      const expected = [...naiveCandidates(bytes)].sort();
      for (const part of planted) expect(expected).toContain(part);
      const rand = prng(seed * 31);
      for (const sizes of [() => 1, () => 31, () => 32, () => 33, () => 1 + Math.floor(rand() * 100), () => 4096]) {
        expect(collect(chunked(bytes, sizes)).hashParts).toEqual(expected);
      }
    }
  });

  it('stops at the cap, says the set is incomplete, and keeps only windows that occur', () => {
    const { bytes } = plantedData(3, 40_000);
    const all = naiveCandidates(bytes);
    expect(all.size).toBeGreaterThan(50);
    const capped = collect(chunked(bytes, () => 1000), 10);
    expect(capped.complete).toBe(false);
    expect(capped.hashParts).toHaveLength(10);
    for (const part of capped.hashParts) expect(all.has(part)).toBe(true);
    expect([...capped.hashParts]).toEqual([...capped.hashParts].sort());
    // Exactly at the cap is complete.
    expect(collect([bytes], all.size).complete).toBe(true);
    expect(NAR_MAX_REFERENCE_CANDIDATES).toBe(16_384);
  });

  it('can be turned off in the verifier', async () => {
    const verifier = createNarVerifier({ compression: 'none', maxReferenceCandidates: 0 });
    await verifier.write(fixture(`cache-none/nar/${hashPath.find((h) => h.path === paths.ref)!.nix32}.nar`));
    expect((await verifier.end()).referenceCandidates).toBeUndefined();
  });
});

describe('scanNarForHashParts', () => {
  async function* from(chunks: Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
    yield* chunks;
  }

  it('finds exactly the wanted hash parts that occur, across boundaries', async () => {
    const rand = prng(9);
    for (let seed = 1; seed <= 4; seed++) {
      const { bytes, planted } = plantedData(seed, 40_000);
      const absent = Array.from({ length: 5 }, () => randomHashPart(rand));
      const found = await scanNarForHashParts(from(chunked(bytes, () => 1 + Math.floor(rand() * 40))), [...planted.slice(0, 10), ...absent]);
      expect([...found].sort()).toEqual(planted.slice(0, 10).sort());
    }
  });

  it('stops reading once every hash part was found', async () => {
    const part = randomHashPart(prng(1));
    let pulled = 0;
    async function* stream(): AsyncIterable<Uint8Array> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.from(i === 3 ? `xx/nix/store/${part}-x` : 'no references here, just text ', 'latin1');
      }
    }
    expect(await scanNarForHashParts(stream(), [part])).toEqual(new Set([part]));
    expect(pulled).toBe(4);
    expect(await scanNarForHashParts(from([]), [])).toEqual(new Set());
  });

  it('refuses something that is not a hash part', async () => {
    await expect(scanNarForHashParts(from([]), ['abc'])).rejects.toThrow(/not a store path hash part/);
    await expect(scanNarForHashParts(from([]), ['e'.repeat(32)])).rejects.toThrow(/not a store path hash part/);
  });
});

describe('packHashParts', () => {
  it('stores 20 bytes per hash part and unpacks them in order', () => {
    const rand = prng(5);
    const parts = Array.from({ length: 100 }, () => randomHashPart(rand)).sort();
    const packed = packHashParts(parts);
    expect(packed).toHaveLength(2000);
    expect(unpackHashParts(packed)).toEqual(parts);
    expect(() => unpackHashParts(new Uint8Array(19))).toThrow(/multiple of 20/);
  });
});
