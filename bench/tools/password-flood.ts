/**
 * Measures what a flood of wrong passwords does to blob I/O (issue 16, item 4): starts
 * one server (its own process, production settings), uploads one synthetic NAR, downloads
 * it alone, then again while `--connections` clients send wrong Basic passwords to
 * `/api/v1/user` as fast as the server answers. Prints download times and what the flood
 * got back (401: a password was hashed; 429: throttled; 503: the hashing queue was full).
 * `--rate` caps the flood's requests per second over all connections (0: as fast as answered).
 *
 *   node --import tsx bench/tools/password-flood.ts [--db pglite] [--mib 30] [--connections 16] [--pulls 5] [--rate 0]
 *     [--env FORGE_SIGNIN_ACCOUNT_LIMIT=1000000,FORGE_SIGNIN_ADDRESS_LIMIT=1000000,FORGE_PASSWORD_HASH_CONCURRENCY=4]
 *
 * The env switches isolate the two defences: the sign-in limits (429 after 10 failures per
 * account, 50 per address) and the hashing bound (one scrypt at a time on libuv's pool).
 * Results are in docs/security.md.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { uploadSyntheticPath } from '../lib/nar.js';
import { createBenchUser, createServer, type DbKind } from '../lib/server.js';
import { fmtMs, median, MiB, sleep } from '../lib/util.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'pglite' },
    mib: { type: 'string', default: '30' },
    connections: { type: 'string', default: '16' },
    pulls: { type: 'string', default: '5' },
    rate: { type: 'string', default: '0' },
    env: { type: 'string', default: '' },
  },
});
const dir = mkdtempSync(path.join(tmpdir(), 'forge-password-flood-'));
const env = Object.fromEntries(values.env!.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
const sut = await createServer({ kind: values.db as DbKind, dir, env });
const PULL_TIMEOUT_MS = 60_000;

/** `node -e` program: N clients sending wrong passwords until SIGTERM, then the answers by status. */
const FLOOD_SCRIPT = `
const [url, n, rate] = process.argv.slice(1);
const answers = {};
let flooding = true;
process.on('SIGTERM', () => { flooding = false; });
// With a rate, each connection starts a request every n/rate seconds at most.
const gapMs = Number(rate) > 0 ? (1000 * Number(n)) / Number(rate) : 0;
await Promise.all(Array.from({ length: Number(n) }, async (_, c) => {
  for (let i = 0; flooding; i++) {
    const started = Date.now();
    const authorization = 'Basic ' + Buffer.from('bench:wrong-' + c + '-' + i).toString('base64');
    try {
      const res = await fetch(url, { headers: { authorization } });
      await res.arrayBuffer();
      answers[res.status] = (answers[res.status] ?? 0) + 1;
    } catch { answers.error = (answers.error ?? 0) + 1; }
    const wait = gapMs - (Date.now() - started);
    if (wait > 0 && flooding) await new Promise((r) => setTimeout(r, wait));
  }
}));
console.log(Object.entries(answers).map(([s, k]) => s + '×' + k).join(', '));
`;

async function pull(url: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(url, { signal: AbortSignal.timeout(PULL_TIMEOUT_MS) });
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
  let bytes = 0;
  for await (const chunk of res.body!) bytes += (chunk as Uint8Array).length;
  if (bytes === 0) throw new Error('empty download');
  return performance.now() - start;
}

async function pulls(url: string, n: number): Promise<Array<number | 'timeout'>> {
  const times: Array<number | 'timeout'> = [];
  for (let i = 0; i < n; i++) {
    try {
      times.push(await pull(url));
    } catch (err) {
      if ((err as Error).name !== 'TimeoutError') throw err;
      times.push('timeout');
    }
  }
  return times;
}

const show = (times: Array<number | 'timeout'>) => {
  const ok = times.filter((t): t is number => t !== 'timeout');
  return `${times.map((t) => (t === 'timeout' ? `>${PULL_TIMEOUT_MS / 1000} s` : fmtMs(t))).join(', ')}${ok.length ? ` (median ${fmtMs(median(ok))})` : ''}`;
};

try {
  await sut.start();
  const token = await createBenchUser(sut);
  const up = await uploadSyntheticPath(`${sut.url}/api/packages/bench/nix`, token, 'flood-test', Number(values.mib) * MiB);
  const narUrl = `${sut.url}/api/packages/bench/nix/${up.url}`;
  console.log(`server: ${values.db}, NAR ${values.mib} MiB, ${values.connections} connections, rate ${values.rate === '0' ? 'unlimited' : values.rate + '/s'}, env ${values.env || '(defaults)'}`);
  await pull(narUrl); // warm the page cache
  console.log(`alone:        ${show(await pulls(narUrl, Number(values.pulls)))}`);

  // The flood runs in its own process, so its clients do not slow the downloading one.
  const flood = spawn(process.execPath, ['--input-type=module', '-e', FLOOD_SCRIPT, `${sut.url}/api/v1/user`, values.connections!, values.rate!], { stdio: ['ignore', 'pipe', 'inherit'] });
  let floodOut = '';
  flood.stdout.on('data', (c: Buffer) => (floodOut += c.toString()));
  const floodDone = new Promise((r) => flood.once('exit', r));
  await sleep(1000);
  const during = await pulls(narUrl, Number(values.pulls));
  flood.kill('SIGTERM');
  await floodDone;
  console.log(`under flood:  ${show(during)}`);
  console.log(`flood answers: ${floodOut.trim()}`);
} finally {
  await sut.destroy();
  rmSync(dir, { recursive: true, force: true });
}
