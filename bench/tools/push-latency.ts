/**
 * A focused experiment for the push path: one server (PGlite or PostgreSQL), `--n` small
 * synthetic paths (compression none, `--kib` each) uploaded one after another over HTTP as
 * `nix copy` does (PUT nar, then PUT narinfo), with the time of each PUT. Without the Nix
 * client's own work in between, what is left is the server's cost per path.
 *
 *   node --import tsx bench/tools/push-latency.ts --db postgres --n 300 --kib 180 ["--node-args=--cpu-prof --cpu-prof-dir=/tmp/prof"]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { uploadSyntheticPath } from '../lib/nar.js';
import { createBenchUser, createServer, type DbKind } from '../lib/server.js';
import { median, percentile } from '../lib/util.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    n: { type: 'string', default: '300' },
    kib: { type: 'string', default: '180' },
    'node-args': { type: 'string', default: '' },
    env: { type: 'string', default: '' },
  },
});
const n = Number(values.n);
const env = Object.fromEntries(values.env!.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
const dir = mkdtempSync(path.join(tmpdir(), 'forge-push-lat-'));
const sut = await createServer({ kind: values.db as DbKind, dir, nodeArgs: values['node-args']!.split(' ').filter(Boolean), env });
const ms = (xs: number[]) => `p50 ${median(xs).toFixed(2)} ms  p90 ${percentile(xs, 90).toFixed(2)} ms  mean ${(xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(2)} ms`;
try {
  await sut.start();
  const token = await createBenchUser(sut);
  const cache = `${sut.url}/api/packages/bench/nix`;
  // The first upload creates the cache's key and settings: not part of the steady state.
  await uploadSyntheticPath(cache, token, 'push-latency-warmup', 1024);
  const nar: number[] = [];
  const narinfo: number[] = [];
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    const up = await uploadSyntheticPath(cache, token, `push-latency-${i}`, Number(values.kib) * 1024);
    nar.push(up.narPutMs);
    narinfo.push(up.narinfoPutMs);
  }
  const wall = performance.now() - started;
  console.log(`${values.db}: ${n} paths of ${values.kib} KiB in ${(wall / 1000).toFixed(2)} s (${(wall / n).toFixed(2)} ms per path)`);
  console.log(`  PUT nar      ${ms(nar)}`);
  console.log(`  PUT narinfo  ${ms(narinfo)}`);
} finally {
  await sut.destroy();
  rmSync(dir, { recursive: true, force: true });
}
