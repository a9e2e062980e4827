#!/usr/bin/env node
// Hand-run throughput check of the NAR format layer (not a test; no assertions):
//
//   npx tsc -b packages/modules/nix && node packages/modules/nix/test/bench/format-throughput.mjs [MiB]
//
// Builds a synthetic NAR of about MiB mebibytes (default 256): a few thousand text-like files
// plus one incompressible blob, compresses it with the xz/zstd/bzip2 CLIs (Nix's defaults:
// xz -6, zstd -3, bzip2 -9; skipped if a tool is missing) and with node:zlib, then measures
//   - NarParser alone (parse + SHA-256 + streamed listing) on the uncompressed NAR,
//   - the reference scan (HashPartCollector) alone, and the verifier with and without it,
//   - createNarVerifier (file hash + decompression + parse + listing + reference scan) for
//     each compression,
// reporting MB/s of uncompressed NAR. Work files go to $TMPDIR/forge-nar-bench.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { HashPartCollector, NarParser, createNarVerifier, narChunks } from '../../dist/format/index.js';

const mib = Number(process.argv[2] ?? 256);
const dir = join(tmpdir(), 'forge-nar-bench');
mkdirSync(dir, { recursive: true });
const narPath = join(dir, `synthetic-${mib}.nar`);

function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function syntheticTree() {
  const rand = prng(1);
  const words = Array.from({ length: 4096 }, () => Buffer.from(Array.from({ length: 2 + Math.floor(rand() * 9) }, () => 97 + Math.floor(rand() * 26)).map((c) => String.fromCharCode(c)).join('') + ' '));
  const text = (size) => {
    const out = Buffer.alloc(size);
    for (let pos = 0; pos < size; ) pos += words[Math.floor(rand() * words.length)].copy(out, pos);
    return out;
  };
  const target = mib * 1024 * 1024;
  const blob = Buffer.alloc(Math.floor(target / 4));
  for (let i = 0; i < blob.length; i += 4) blob.writeUInt32LE(Math.floor(rand() * 2 ** 32), i);
  const lib = {};
  let total = blob.length;
  for (let i = 0; total < target; i++) {
    const size = 1024 + Math.floor(rand() * rand() * 512 * 1024);
    lib[`file-${String(i).padStart(5, '0')}.txt`] = { type: 'regular', contents: text(size) };
    total += size;
  }
  return { type: 'directory', entries: { bin: { type: 'directory', entries: { blob: { type: 'regular', executable: true, contents: blob } } }, lib: { type: 'directory', entries: lib } } };
}

if (!existsSync(narPath)) {
  console.log(`building ${narPath} …`);
  writeFileSync(narPath, Buffer.concat([...narChunks(syntheticTree())]));
}
const nar = readFileSync(narPath);
const files = { none: nar };
for (const [name, cmd, args, ext] of [
  ['xz', 'xz', ['-6', '-T1', '-k', '-f'], '.xz'],
  ['zstd', 'zstd', ['-3', '-q', '-f', '-k'], '.zst'],
  ['bzip2', 'bzip2', ['-9', '-k', '-f'], '.bz2'],
]) {
  const out = narPath + ext;
  if (!existsSync(out)) {
    console.log(`compressing with ${cmd} …`);
    const r = spawnSync(cmd, [...args, narPath], { stdio: 'inherit' });
    if (r.error || r.status !== 0) continue;
  }
  files[name] = readFileSync(out);
}
files.gzip = existsSync(narPath + '.gz') ? readFileSync(narPath + '.gz') : (writeFileSync(narPath + '.gz', gzipSync(nar, { level: 6 })), readFileSync(narPath + '.gz'));
files.br = existsSync(narPath + '.br') ? readFileSync(narPath + '.br') : (writeFileSync(narPath + '.br', brotliCompressSync(nar, { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } })), readFileSync(narPath + '.br'));

const CHUNK = 64 * 1024; // what an HTTP request body typically delivers
const mb = (bytes, ms) => ((bytes / 1e6) / (ms / 1000)).toFixed(0);
const time = async (fn) => {
  const t0 = performance.now();
  const r = await fn();
  return [performance.now() - t0, r];
};

console.log(`NAR: ${(nar.length / 1e6).toFixed(0)} MB, ${statSync(narPath).size} bytes; chunks of ${CHUNK / 1024} KiB`);
{
  const [ms] = await time(() => createHash('sha256').update(nar).digest());
  console.log(`baseline sha256 alone            ${mb(nar.length, ms).padStart(6)} MB/s`);
}
for (let round = 0; round < 2; round++) {
  const [ms, r] = await time(() => {
    const p = new NarParser({ onListing: () => {} });
    for (let pos = 0; pos < nar.length; pos += CHUNK) p.write(nar.subarray(pos, pos + CHUNK));
    return p.end();
  });
  if (round === 1) console.log(`NarParser (parse+hash+listing)  ${mb(nar.length, ms).padStart(6)} MB/s  (${r.entryCount} entries, ${r.listingSize} bytes of listing)`);
}
{
  let best = Infinity;
  let found;
  for (let round = 0; round < 3; round++) {
    const [ms, r] = await time(() => {
      const c = new HashPartCollector();
      for (let pos = 0; pos < nar.length; pos += CHUNK) c.write(nar.subarray(pos, pos + CHUNK));
      return c.result();
    });
    best = Math.min(best, ms);
    found = r;
  }
  console.log(`reference scan alone             ${mb(nar.length, best).padStart(6)} MB/s  (${found.hashParts.length} candidates)`);
}
{
  // Many small files: per-entry cost (tokens, name checks, listing nodes) rather than hashing.
  const rand = prng(2);
  const dirs = {};
  for (let d = 0; d < 100; d++) {
    const entries = {};
    for (let f = 0; f < 1000; f++) entries[`f${f}.py`] = { type: 'regular', contents: Buffer.alloc(Math.floor(rand() * 200), 97) };
    dirs[`d${d}`] = { type: 'directory', entries };
  }
  const small = Buffer.concat([...narChunks({ type: 'directory', entries: dirs })]);
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const [ms] = await time(() => {
      const p = new NarParser();
      for (let pos = 0; pos < small.length; pos += CHUNK) p.write(small.subarray(pos, pos + CHUNK));
      return p.end();
    });
    best = Math.min(best, ms);
  }
  console.log(`NarParser, 100k small files      ${mb(small.length, best).padStart(6)} MB/s  (${((100_000 / best) * 1000 / 1e6).toFixed(2)} M entries/s, ${(small.length / 1e6).toFixed(0)} MB)`);
}
const verify = async (compression, body, scan) => {
  let best = Infinity;
  for (let round = 0; round < 2; round++) {
    const [ms, r] = await time(async () => {
      // The listing goes to a consumer that takes it at once, as the blob store's staging does.
      const v = createNarVerifier({ compression, onListing: async () => {}, ...(!scan && { maxReferenceCandidates: 0 }) });
      for (let pos = 0; pos < body.length; pos += CHUNK) await v.write(body.subarray(pos, pos + CHUNK));
      return v.end();
    });
    if (r.narSize !== nar.length) throw new Error('size mismatch');
    best = Math.min(best, ms);
  }
  return best;
};
console.log('verifier (file hash + decompression + parse + listing), MB/s of NAR: with the reference scan / without');
for (const [compression, body] of Object.entries(files)) {
  const withScan = await verify(compression, body, true);
  const withoutScan = await verify(compression, body, false);
  console.log(
    `verifier ${compression.padEnd(5)} (${(body.length / 1e6).toFixed(0).padStart(4)} MB in)  ${mb(nar.length, withScan).padStart(6)} / ${mb(nar.length, withoutScan).padStart(6)} MB/s of NAR  (${((withScan / withoutScan - 1) * 100).toFixed(0).padStart(3)}% for the scan)  ${mb(body.length, withScan).padStart(6)} MB/s of upload`,
  );
}
