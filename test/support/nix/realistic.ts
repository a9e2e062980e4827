/**
 * A deterministic generator of closure specs shaped like a real NixOS system, for benchmarks:
 * many small paths and a few large ones (log-normal sizes, clamped at ±3σ), a reference DAG
 * where each path references a few earlier ones (biased towards "foundational" early paths
 * such as a libc, plus recent neighbours), and one small root ("system") path that references
 * everything nothing else does, so copying the root copies the whole closure. Content is
 * mostly compressible text, with binary (random) and mixed paths, more of them among the
 * large ones.
 */
import type { ClosureSpec, ContentKind, PathSpec } from './closure.js';

export interface RealisticOptions {
  /** Number of store paths, the root included (≥ 2). */
  paths: number;
  /** Sum of `size` over all paths. */
  totalBytes: number;
  /** Same seed, same spec. */
  seed: number | string;
  /** Log-normal σ of path sizes (default 2.2: median ≈ mean / 11). */
  sizeSigma?: number;
}

export interface RealisticClosureSpec extends ClosureSpec {
  /** Name of the root path (the last one). */
  root: string;
  totalBytes: number;
  seed: number | string;
}

/** mulberry32 seeded through an FNV-1a hash of the seed. */
export function prng(seed: number | string): () => number {
  let h = 2166136261;
  for (const ch of String(seed)) {
    h ^= ch.codePointAt(0)!;
    h = Math.imul(h, 16777619) >>> 0;
  }
  let a = h;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(rand: () => number): number {
  const u = Math.max(rand(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const SYLLABLES = ['gl', 'ib', 'xml', 'ssl', 'z', 'bz', 'ncur', 'ses', 'py', 'thon', 'perl', 'gtk', 'qt', 'sys', 'temd', 'util', 'linux', 'core', 'dbus', 'font', 'conf', 'mesa', 'llvm', 'rust', 'go', 'icu', 'curl', 'krb', 'pam', 'acl', 'attr', 'gmp', 'mpfr', 'ffi', 'x11', 'way', 'land', 'pipe', 'wire', 'audio', 'cairo', 'pango', 'harf', 'buzz', 'jpeg', 'png', 'tiff', 'web', 'kit', 'boost', 'zstd', 'lz', 'xz', 'firm', 'ware'];

export function realisticClosureSpec(options: RealisticOptions): RealisticClosureSpec {
  const { paths: n, totalBytes, seed } = options;
  if (!Number.isInteger(n) || n < 2) throw new Error('paths must be an integer >= 2');
  if (!Number.isSafeInteger(totalBytes) || totalBytes < n * 64) throw new Error('totalBytes too small for that many paths');
  const sigma = options.sizeSigma ?? 2.2;
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;

  // Sizes: n-1 ordinary paths share totalBytes minus the root's.
  const rootSize = Math.min(64 * 1024, Math.floor(totalBytes / (n * 4)));
  const budget = totalBytes - rootSize;
  const weights = Array.from({ length: n - 1 }, () => Math.exp(sigma * Math.max(-3, Math.min(3, gaussian(rand)))));
  const wsum = weights.reduce((a, b) => a + b, 0);
  const sizes = weights.map((w) => Math.max(64, Math.floor((w / wsum) * budget)));
  let diff = budget - sizes.reduce((a, b) => a + b, 0);
  // Put the rounding difference on the largest paths (they can absorb it).
  const bySize = sizes.map((s, i) => [s, i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of bySize) {
    if (diff === 0) break;
    const delta = diff > 0 ? diff : Math.max(diff, 64 - sizes[i]!);
    sizes[i]! += delta;
    diff -= delta;
  }

  const names = new Set<string>();
  const specs: PathSpec[] = [];
  const referrers = new Array<number>(n - 1).fill(0);
  for (let i = 0; i < n - 1; i++) {
    const size = sizes[i]!;
    const stem = (rand() < 0.3 ? 'lib' : '') + Array.from({ length: 1 + Math.floor(rand() * 2.5) }, () => pick(SYLLABLES)).join('');
    let name = `${stem}-${1 + Math.floor(rand() * 5)}.${Math.floor(rand() * 30)}${rand() < 0.4 ? `.${Math.floor(rand() * 10)}` : ''}`;
    if (names.has(name)) name = `${stem}-${i}`;
    names.add(name);

    const large = size > 8 * 1024 * 1024;
    const r = rand();
    // About a fifth of all bytes end up random: large paths are often mixed (binaries with
    // string tables, firmware), rarely pure random; small ones are mostly text.
    const content: ContentKind = large ? (r < 0.1 ? 'binary' : r < 0.6 ? 'mixed' : 'text') : r < 0.05 ? 'binary' : r < 0.3 ? 'mixed' : 'text';
    const fileSize = 24 * 1024 * Math.exp(1.2 * gaussian(rand));
    const files = Math.max(1, Math.min(400, Math.round(size / fileSize)));

    const k = Math.min(i, Math.round(Math.exp(1.0 + 0.8 * gaussian(rand))) - 1);
    const refs = new Set<number>();
    for (let tries = 0; refs.size < Math.max(0, k) && tries < k * 4; tries++) {
      const j = rand() < 0.5 ? Math.floor(i * rand() ** 3) : i - 1 - Math.floor(rand() * Math.min(i, 40));
      refs.add(j);
    }
    for (const j of refs) referrers[j]! += 1;

    const singleFile = size < 64 * 1024 && rand() < 0.05;
    specs.push({
      name,
      size,
      content,
      files: singleFile ? 1 : files,
      bin: !singleFile && rand() < 0.4,
      symlink: !singleFile && rand() < 0.3,
      selfReference: rand() < 0.15,
      singleFile,
      references: [...refs].sort((a, b) => a - b).map((j) => specs[j]!.name),
    });
  }
  const root = `nixos-system-${String(seed).replace(/[^A-Za-z0-9+\-._?=]/g, '_')}`;
  specs.push({
    name: root,
    size: rootSize,
    content: 'text',
    files: Math.max(1, Math.min(32, Math.floor(rootSize / 2048))),
    bin: true,
    symlink: true,
    references: specs.filter((_, j) => referrers[j] === 0).map((s) => s.name),
  });
  return { paths: specs, root, totalBytes, seed };
}

export interface SpecSummary {
  paths: number;
  totalBytes: number;
  largest: number;
  median: number;
  /** Share of bytes in the largest 1% of paths. */
  top1PercentShare: number;
  references: number;
  files: number;
  /** Approximate bytes of random (incompressible) content. */
  binaryBytes: number;
}

export function summarizeSpec(spec: ClosureSpec): SpecSummary {
  const sizes = spec.paths.map((p) => p.size ?? 1024).sort((a, b) => b - a);
  const total = sizes.reduce((a, b) => a + b, 0);
  const top = sizes.slice(0, Math.max(1, Math.round(sizes.length / 100))).reduce((a, b) => a + b, 0);
  return {
    paths: sizes.length,
    totalBytes: total,
    largest: sizes[0] ?? 0,
    median: sizes[Math.floor(sizes.length / 2)] ?? 0,
    top1PercentShare: total ? top / total : 0,
    references: spec.paths.reduce((a, p) => a + (p.references?.length ?? 0), 0),
    files: spec.paths.reduce((a, p) => a + (p.singleFile ? 1 : (p.files ?? 1)), 0),
    binaryBytes: spec.paths.reduce((a, p) => a + (p.content === 'binary' ? (p.size ?? 0) : p.content === 'mixed' ? (p.size ?? 0) / 4 : 0), 0),
  };
}
