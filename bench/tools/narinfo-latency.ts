/**
 * A focused experiment for the narinfo path: one server (PGlite or PostgreSQL) with one
 * synthetic path, its narinfo fetched `--n` times sequentially on one connection (warm:
 * the server's narinfo memo answers), then `--n` misses; and, for the floor, the same
 * against a bare `node:http` server that answers every request with the same body.
 *
 *   node --import tsx bench/tools/narinfo-latency.ts --db postgres --n 5000 ["--node-args=--cpu-prof"]
 */
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { uploadSyntheticPath } from '../lib/nar.js';
import { createBenchUser, createServer, type DbKind } from '../lib/server.js';
import { loadgen } from '../lib/targets.js';
import { median, percentile } from '../lib/util.js';

const { values } = parseArgs({
  options: { db: { type: 'string', default: 'postgres' }, n: { type: 'string', default: '5000' }, 'node-args': { type: 'string', default: '' }, env: { type: 'string', default: '' } },
});
const n = Number(values.n);
const env = Object.fromEntries(values.env!.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
const dir = mkdtempSync(path.join(tmpdir(), 'forge-narinfo-lat-'));
const report = (what: string, r: { ms: number; latencies?: number[] }) =>
  console.log(`${what.padEnd(28)} ${(r.ms / n * 1000).toFixed(0).padStart(5)} µs/req  p50 ${(median(r.latencies!) * 1000).toFixed(0)} µs  p99 ${(percentile(r.latencies!, 99) * 1000).toFixed(0)} µs`);

const bare = http.createServer((_req, res) => {
  const body = Buffer.alloc(600, 'x');
  res.writeHead(200, { 'Content-Type': 'text/x-nix-narinfo', 'Content-Length': body.length });
  res.end(body);
});
await new Promise<void>((r) => bare.listen(0, '127.0.0.1', r));
const barePort = (bare.address() as { port: number }).port;
const sut = await createServer({ kind: values.db as DbKind, dir, nodeArgs: values['node-args']!.split(' ').filter(Boolean), env });
try {
  await sut.start();
  const token = await createBenchUser(sut);
  const up = await uploadSyntheticPath(`${sut.url}/api/packages/bench/nix`, token, 'latency-test', 1000);
  const t = { name: 'forge', host: '127.0.0.1', port: sut.port, base: () => '', pid: sut.pid, tree: false };
  const hit = `/api/packages/bench/nix/${up.hashPart}.narinfo`;
  const miss = `/api/packages/bench/nix/${'0'.repeat(32)}.narinfo`;
  await loadgen(t, { kind: 'seq', paths: [hit], passes: 500 });
  report('forge narinfo hit (warm)', await loadgen(t, { kind: 'seq', paths: [hit], passes: n }));
  report('forge narinfo miss (warm)', await loadgen(t, { kind: 'seq', paths: [miss], passes: n }));
  // the bare server runs in this process: the load generator is still its own process
  report('bare node:http, same size', await loadgen({ ...t, port: barePort, pid: () => process.pid }, { kind: 'seq', paths: [hit], passes: n }));
} finally {
  await sut.destroy();
  bare.close();
  rmSync(dir, { recursive: true, force: true });
}
