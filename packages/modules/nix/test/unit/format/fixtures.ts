/** Access to the vectors written by the real Nix 2.8 (see ../../fixtures/generate.sh). */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/nix-2.8');

export const CACHE_COMPRESSIONS = ['xz', 'zstd', 'none', 'gzip', 'br', 'bzip2'] as const;

export function fixture(path: string): Buffer {
  return readFileSync(join(FIXTURES, path));
}

export function fixtureText(path: string): string {
  return readFileSync(join(FIXTURES, path), 'utf8');
}

export function cacheFiles(compression: string, suffix: string): string[] {
  return readdirSync(join(FIXTURES, `cache-${compression}`))
    .filter((f) => f.endsWith(suffix))
    .map((f) => `cache-${compression}/${f}`);
}

export function narFiles(compression: string): string[] {
  return readdirSync(join(FIXTURES, `cache-${compression}/nar`)).map((f) => `cache-${compression}/nar/${f}`);
}

export const paths = JSON.parse(fixtureText('paths.json')) as { tree: string; ref: string; drv: string; hello: string };

/** Lines of hash-path.txt: store path, then `nix hash path` in base32, base16 and SRI. */
export const hashPath = fixtureText('hash-path.txt')
  .trim()
  .split('\n')
  .map((line) => {
    const [path, nix32, base16, sri] = line.split(' ') as [string, string, string, string];
    return { path, nix32, base16, sri };
  });

/** Splits bytes into chunks of the given sizes (cycled), for streaming tests. */
export function* chunked(bytes: Uint8Array, sizes: () => number): Generator<Uint8Array> {
  for (let pos = 0; pos < bytes.length; ) {
    const n = Math.max(1, sizes());
    yield bytes.subarray(pos, pos + n);
    pos += n;
  }
}

/** A small deterministic PRNG (mulberry32), so random chunkings are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
