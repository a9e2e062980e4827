/**
 * `npm run bench`: the server against nginx on the same closure, in one run. See
 * docs/benchmarks.md for what is measured, how, and the latest results.
 *
 *   npm run bench                    # full run (about 25 minutes on 2 cores, 9 of them the direct stage)
 *   npm run bench -- --quick         # small closure, 1 repetition, small scale/big-NAR runs
 *   npm run bench -- --help
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  buildClosure,
  copyTo,
  createNixClient,
  fileStoreUrl,
  pathInfo,
  realisticClosureSpec,
  nixOrThrow,
  summarizeSpec,
  type NixClient,
} from '../test/support/nix/index.js';
import { runBigNar } from './lib/bignar.js';
import { runDirect } from './lib/direct.js';
import { runIdle } from './lib/idle.js';
import { startNginx, findNginx, type Nginx } from './lib/nginx.js';
import { Progress } from './lib/progress.js';
import { summarize, toCsv, toMarkdown, writeChart, type Measurement } from './lib/report.js';
import { runScale } from './lib/scale.js';
import { createBenchUser, createServer, REPO, type DbKind, type ServerUnderTest } from './lib/server.js';
import { loadgen, wrk, type Target } from './lib/targets.js';
import { fmtMs, MiB, RssSampler, sleep } from './lib/util.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    out: { type: 'string' },
    dbs: { type: 'string', default: 'pglite,postgres' },
    only: { type: 'string', default: 'idle,push,narinfo,nar,wrk,direct,scale,bignar' },
    paths: { type: 'string' },
    mib: { type: 'string' },
    seed: { type: 'string', default: '2024' },
    'wrk-seconds': { type: 'string' },
    'nginx-workers': { type: 'string', default: 'auto' },
    'scale-large': { type: 'string' },
    'big-nar-mib': { type: 'string' },
    'node-args': { type: 'string', default: '' },
    'access-log': { type: 'string', default: '1' },
    'update-docs': { type: 'boolean' },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (args.help) {
  process.stdout.write(`npm run bench -- [options]
  --quick              small closure (40 paths, 16 MiB), 1 repetition, 2 s wrk runs, scale 1k vs 10k, 64 MiB big NAR, idle RSS of a fresh install only
  --reps N             repetitions of every metric (default 3; quick 1)
  --out DIR            where results go (default bench/out/<date>-<commit>; full runs also write bench/results/)
  --dbs LIST           pglite,postgres (default both)
  --only LIST          idle,push,narinfo,nar,wrk,direct,scale,bignar (default all; direct needs postgres)
  --paths N --mib M    closure size (default 320 paths, 640 MiB of file content)
  --seed S             closure seed (default 2024): same seed, same store paths
  --wrk-seconds S      duration of each wrk run (default 10)
  --nginx-workers W    nginx worker_processes (default auto, Debian's default)
  --scale-large N      paths in the large scale run (default 1000000)
  --big-nar-mib M      size of the big NAR (default 2048)
  --node-args "..."    extra node arguments for the server (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof")
  --access-log 0|1     FORGE_ACCESS_LOG for the server (default 1, the default config)
  --update-docs        rewrite the results block of docs/benchmarks.md (default on for full runs)
  --keep               keep the work directory (closure copies, data dirs, logs)
`);
  process.exit(0);
}

const quick = args.quick;
const reps = Number(args.reps ?? (quick ? 1 : 3));
const only = new Set(args.only!.split(','));
const dbs = args.dbs!.split(',').filter(Boolean) as DbKind[];
const closurePaths = Number(args.paths ?? (quick ? 40 : 320));
const closureBytes = Number(args.mib ?? (quick ? 16 : 640)) * MiB;
const wrkSeconds = Number(args['wrk-seconds'] ?? (quick ? 2 : 10));
const scaleLarge = Number(args['scale-large'] ?? (quick ? 10_000 : 1_000_000));
const bigNarBytes = Number(args['big-nar-mib'] ?? (quick ? 64 : 2048)) * MiB;
const nodeArgs = args['node-args']!.split(' ').filter(Boolean);
const updateDocs = args['update-docs'] ?? !quick;

const commit = execFileSync('git', ['rev-parse', '--short=10', 'HEAD'], { cwd: REPO, encoding: 'utf8' }).trim();
const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: REPO, encoding: 'utf8' }).trim() !== '';
const date = new Date().toISOString().slice(0, 10);
const stamp = `${date}-${commit}${dirty ? '-dirty' : ''}`;
const outDir = path.resolve(args.out ?? path.join(REPO, 'bench/out', `${stamp}${quick ? '-quick' : ''}`));
const work = path.join(outDir, 'work');
const cpu = (os.cpus()[0]?.model ?? 'cpu').trim();
const machine = `${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;

// ---- preflight: every tool, or a clear failure (the smoke test depends on it) ----
nixOrThrow();
if (!findNginx()) throw new Error('nginx is required (apt-get install nginx)');
if (only.has('wrk') && !existsSync('/usr/bin/wrk')) throw new Error('wrk is required (apt-get install wrk)');
if (!existsSync(path.join(REPO, 'apps/server/dist/main.js'))) throw new Error('the server is not built: run `npm run build` (npm run bench does)');

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const measurements: Measurement[] = [];
const servers: ServerUnderTest[] = [];
let nginx: Nginx | undefined;
const progress = new Progress(estimateSteps());
const log = (s: string) => progress.log(s);

function estimateSteps(): number {
  let n = 3;
  const t = 1 + dbs.length;
  if (only.has('idle')) n += dbs.length * (quick ? 1 : 2);
  if (only.has('push')) n += dbs.length + reps * 2 * t;
  if (only.has('narinfo')) n += reps * t + t;
  if (only.has('nar')) n += reps * 6 * t + 2 * t;
  if (only.has('wrk')) n += reps * 2 * t;
  if (only.has('direct') && dbs.includes('postgres')) n += 6 + reps * 8 * 2 + reps * 2;
  if (only.has('scale')) n += dbs.length * 2;
  if (only.has('bignar')) n += dbs.length;
  return n + 1;
}

function record(m: Measurement): void {
  const existing = measurements.find((x) => x.metric === m.metric && x.target === m.target && x.section === m.section);
  if (existing) {
    existing.values.push(...m.values);
    existing.rssPeak = Math.max(existing.rssPeak ?? 0, m.rssPeak ?? 0) || undefined;
  } else {
    measurements.push({ ...m, values: [...m.values] });
  }
}

async function main(): Promise<void> {
  log(`forge bench ${stamp}${quick ? ' (quick)' : ''}: ${machine}`);
  log(`results: ${outDir}`);

  // ---- 0. idle RSS on a fresh install and after a restart (nothing else running yet) ----
  if (only.has('idle')) {
    for (const kind of dbs) for (const m of await runIdle({ kind, dir: path.join(work, 'idle'), progress, nodeArgs, quick })) record(m);
  }

  // Everything up to the scale run reads the closure; a run of only idle/scale/bignar skips it.
  let closureFacts: Parameters<typeof renderResults>[1] | undefined;
  reads: {
  if (!['push', 'narinfo', 'nar', 'wrk', 'direct'].some((s) => only.has(s))) break reads;
  // ---- 1. the closure, built reproducibly (fixed seed → fixed salt → same store paths) ----
  progress.step(`building the closure (${closurePaths} paths, ${(closureBytes / MiB).toFixed(0)} MiB, seed ${args.seed})`);
  const client = createNixClient({ dir: path.join(work, 'client') });
  const spec = realisticClosureSpec({ paths: closurePaths, totalBytes: closureBytes, seed: args.seed! });
  const closure = await buildClosure(client, spec, { salt: `forge-bench-${args.seed}-${closurePaths}-${closureBytes}` });
  const root = path.join(work, 'client'); // (not a GC root: the harness creates none)
  void root;
  const infos = await pathInfo(client, undefined, closure.roots, { recursive: true, check: true });
  const narTotal = infos.info.reduce((a, i) => a + (i.narSize ?? 0), 0);
  const summary = summarizeSpec(spec);
  const hashes = closure.outPaths.map((p) => path.basename(p).slice(0, 32));
  log(`closure: ${closure.paths.length} paths, NAR total ${(narTotal / MiB).toFixed(0)} MiB, largest ${(summary.largest / MiB).toFixed(1)} MiB, median ${(summary.median / 1024).toFixed(0)} KiB, ${summary.references} references (built in ${fmtMs(closure.buildMs)})`);
  progress.tick();

  // ---- 2. nix copy --to file:// (none and zstd; xz is ~1 MB/s here, not benchmarked) ----
  const caches = path.join(work, 'caches');
  const copyMs: Record<string, number> = {};
  for (const compression of ['none', 'zstd'] as const) {
    progress.step(`nix copy --to file:// (compression=${compression})`);
    const t0 = performance.now();
    client.assertOk(await copyTo(client, fileStoreUrl(path.join(caches, compression)), closure.roots, { compression }));
    copyMs[compression] = performance.now() - t0;
  }
  progress.tick(`file:// copies: none ${fmtMs(copyMs.none!)}, zstd ${fmtMs(copyMs.zstd!)}`);

  // ---- 3. nginx (static + WebDAV) and the servers under test ----
  progress.step('starting nginx and the servers');
  nginx = await startNginx({ dir: path.join(work, 'nginx'), cachesRoot: caches, workers: args['nginx-workers']! });
  const tokens = new Map<DbKind, string>();
  for (const kind of dbs) {
    const sut = await createServer({ kind, dir: path.join(work, `server-${kind}`), nodeArgs, env: { FORGE_ACCESS_LOG: args['access-log']! } });
    servers.push(sut);
    await sut.start();
    tokens.set(kind, await createBenchUser(sut));
  }
  progress.tick();
  const nginxTarget: Target = { name: 'nginx', host: '127.0.0.1', port: nginx.staticPort, base: (c) => `/${c}`, pid: () => nginx!.pid, tree: true };
  const serverTarget = (sut: ServerUnderTest): Target => ({
    name: `forge-${sut.kind}`,
    host: '127.0.0.1',
    port: sut.port,
    base: (c) => `/api/packages/p-${c}-1/nix`,
    pid: sut.pid,
    tree: false,
  });
  const targets: Target[] = [nginxTarget, ...servers.map(serverTarget)];

  // ---- 4. push: nix copy --to of the whole closure, server vs nginx WebDAV ----
  // Every repetition pushes into a fresh cache (a new org on the server, a new directory on
  // nginx) with a fresh client cache. The first repetition's caches serve the read metrics.
  const pushReps = only.has('push') ? reps : 1;
  for (let rep = 1; rep <= pushReps; rep++) {
    for (const compression of ['none', 'zstd'] as const) {
      const order: Array<ServerUnderTest | 'nginx'> = only.has('push') ? ['nginx', ...servers] : [...servers];
      for (const t of order) {
        const isNginx = t === 'nginx';
        const name = isNginx ? 'nginx-dav' : `forge-${t.kind}`;
        const org = `p-${compression}-${rep}`;
        let url: string;
        if (isNginx) {
          url = `${nginx.davUrl}/${org}`;
        } else {
          await t.cli(['admin', 'org', 'create', '--name', org, '--owner', 'bench']);
          url = `${t.url}/api/packages/${org}/nix`;
          client.setNetrc([{ machine: '127.0.0.1', password: tokens.get(t.kind)! }]);
        }
        progress.step(`push ${compression} #${rep} → ${name}`);
        client.clearCache();
        const sampler = new RssSampler(isNginx ? () => nginx!.pid : t.pid, 100, isNginx).start();
        const t0 = performance.now();
        client.assertOk(await copyTo(client, url, closure.roots, { compression }));
        const ms = performance.now() - t0;
        const rssPeak = sampler.stop();
        if (only.has('push')) {
          record({ section: 'main', metric: `push_${compression}`, unit: 's', target: name, values: [ms / 1000], rssPeak, better: 'lower', reference: isNginx ? undefined : 'nginx-dav', goal: 1.3 });
        }
        progress.tick(`push ${compression} #${rep} → ${name}: ${fmtMs(ms)}`);
      }
    }
  }

  // Request paths per target: narinfos of the closure; NAR URLs from each target's own narinfos.
  const narinfoPaths = (t: Target) => hashes.map((h) => `${t.base('zstd')}/${h}.narinfo`);
  const narPaths = new Map<string, string[]>();
  for (const t of targets) {
    for (const compression of ['none', 'zstd'] as const) {
      const urls: string[] = [];
      for (const h of hashes) {
        const res = await fetch(`http://${t.host}:${t.port}${t.base(compression)}/${h}.narinfo`);
        const text = await res.text();
        if (res.status !== 200) throw new Error(`${t.name}: ${h}.narinfo: ${res.status} ${text}`);
        urls.push(`${t.base(compression)}/${/^URL: (.*)$/m.exec(text)![1]}`);
      }
      narPaths.set(`${t.name}/${compression}`, urls);
    }
  }

  // ---- 5. narinfo_all: every narinfo of the closure, sequentially, one keep-alive connection ----
  if (only.has('narinfo')) {
    for (const t of targets) {
      progress.step(`narinfo_all warm-up → ${t.name}`);
      await loadgen(t, { kind: 'seq', paths: narinfoPaths(t) });
      progress.tick();
    }
    for (let rep = 1; rep <= reps; rep++) {
      for (const t of targets) {
        progress.step(`narinfo_all #${rep} → ${t.name}`);
        const r = await loadgen(t, { kind: 'seq', paths: narinfoPaths(t) });
        if (r.statuses['200'] !== hashes.length) throw new Error(`${t.name}: narinfo_all statuses ${JSON.stringify(r.statuses)}`);
        record({ section: 'main', metric: 'narinfo_all', unit: 'ms', target: t.name, values: [r.ms], rssPeak: r.rssPeak, better: 'lower', reference: t.name === 'nginx' ? undefined : 'nginx', goal: 1.5 });
        // The same again at once: what a second client (or a retry) sees, with the server's
        // narinfo memo warm (nginx: the page cache is warm in both passes).
        const w = await loadgen(t, { kind: 'seq', paths: narinfoPaths(t) });
        record({ section: 'main', metric: 'narinfo_all_warm', unit: 'ms', target: t.name, values: [w.ms], rssPeak: w.rssPeak, better: 'lower', reference: t.name === 'nginx' ? undefined : 'nginx', goal: 1.5 });
        progress.tick(`narinfo_all #${rep} → ${t.name}: ${fmtMs(r.ms)}, warm ${fmtMs(w.ms)}`);
        // A pause between passes, as in earlier runs (the server's memo no longer expires
        // after 5 s: narinfos are written through at upload and dropped by change notices,
        // so the first pass after a push is served from memory; the scale run measures
        // lookups that reach the database).
        if (t.name !== 'nginx') await sleep(quick ? 0 : 5_500);
      }
    }
  }

  // ---- 6. nar_cN: every NAR once with N workers, bodies drained (not decompressed) ----
  if (only.has('nar')) {
    for (const compression of ['none', 'zstd'] as const) {
      for (const t of targets) {
        progress.step(`NAR warm-up (${compression}) → ${t.name}`);
        await loadgen(t, { kind: 'pool', concurrency: 4, paths: narPaths.get(`${t.name}/${compression}`)! });
        progress.tick();
      }
    }
    for (let rep = 1; rep <= reps; rep++) {
      for (const compression of ['none', 'zstd'] as const) {
        for (const c of [1, 4, 16]) {
          for (const t of targets) {
            progress.step(`nar_c${c} ${compression} #${rep} → ${t.name}`);
            const paths = narPaths.get(`${t.name}/${compression}`)!;
            const r = await loadgen(t, { kind: 'pool', concurrency: c, paths });
            if (r.statuses['200'] !== paths.length) throw new Error(`${t.name}: nar statuses ${JSON.stringify(r.statuses)}`);
            record({ section: 'main', metric: `nar_c${c}_${compression}`, unit: 'ms', target: t.name, values: [r.ms], rssPeak: r.rssPeak, better: 'lower', reference: t.name === 'nginx' ? undefined : 'nginx', goal: c === 1 ? 1.5 : c === 16 ? 1.2 : undefined });
            progress.tick(`nar_c${c} ${compression} #${rep} → ${t.name}: ${fmtMs(r.ms)} (${(r.bytes / MiB / (r.ms / 1000)).toFixed(0)} MiB/s)`);
          }
        }
      }
    }
  }

  // ---- 7. narinfo at 64 connections (wrk): hits and misses ----
  if (only.has('wrk')) {
    const misses = Array.from({ length: 1000 }, (_, i) => missHash(i));
    for (let rep = 1; rep <= reps; rep++) {
      for (const kind of ['hit', 'miss'] as const) {
        for (const t of targets) {
          progress.step(`wrk narinfo ${kind === 'hit' ? 'hits' : 'misses'} #${rep} → ${t.name} (${wrkSeconds} s, 64 connections)`);
          const paths = kind === 'hit' ? narinfoPaths(t) : misses.map((h) => `${t.base('zstd')}/${h}.narinfo`);
          const r = await wrk(t, paths, { dir: work, name: `${t.name}-${kind}`, seconds: wrkSeconds });
          const unexpected = kind === 'hit' ? r.errors_status : r.requests - r.errors_status;
          if (unexpected > 0 || r.errors_connect + r.errors_read + r.errors_timeout > 0) {
            throw new Error(`${t.name}: wrk ${kind}s: unexpected statuses or errors ${JSON.stringify(r)}`);
          }
          const ref = t.name === 'nginx' ? undefined : 'nginx';
          const base = { section: 'main' as const, target: t.name, rssPeak: r.rssPeak, reference: ref };
          record({ ...base, metric: `narinfo_${kind}_c64_rps`, unit: 'req/s', values: [r.rps], better: 'higher' });
          record({ ...base, metric: `narinfo_${kind}_c64_p50`, unit: 'ms', values: [r.p50_us / 1000], better: 'lower' });
          record({ ...base, metric: `narinfo_${kind}_c64_p99`, unit: 'ms', values: [r.p99_us / 1000], better: 'lower' });
          progress.tick(`wrk ${kind === 'hit' ? 'hits' : 'misses'} #${rep} → ${t.name}: ${r.rps.toFixed(0)} req/s, p50 ${(r.p50_us / 1000).toFixed(2)} ms, p99 ${(r.p99_us / 1000).toFixed(2)} ms`);
        }
      }
    }
  }

  // ---- 7b. serving directly (accel behind nginx, S3 redirects) and FORGE_WORKERS=2 ----
  if (only.has('direct')) {
    const postgres = servers.find((s) => s.kind === 'postgres');
    if (!postgres) {
      log('direct: skipped (it needs PostgreSQL: --dbs …,postgres)');
    } else {
      await runDirect({
        work,
        postgres,
        nginxTarget,
        cachesRoot: caches,
        narPaths: (c) => narPaths.get(`forge-postgres/${c}`)!,
        nginxNarPaths: (c) => narPaths.get(`nginx/${c}`)!,
        narinfoHashes: hashes,
        client,
        closureRoots: closure.roots,
        reps,
        wrkSeconds,
        nginxWorkers: args['nginx-workers']!,
        accessLog: args['access-log']!,
        progress,
        record,
      });
    }
  }

  // The read benchmarks are done: stop these servers before the scale and big-NAR runs.
  for (const s of servers) await s.destroy();
  servers.length = 0;
  await nginx.stop();
  closureFacts = { narTotal, paths: closure.paths.length, summary, copyMs };
  }

  // ---- 8. scale: narinfo lookup latency with 1 000 vs 1 000 000 paths ----
  if (only.has('scale')) {
    for (const kind of dbs) {
      for (const m of await runScale({ kind, dir: path.join(work, `scale-${kind}`), small: 1000, large: scaleLarge, reps, quick, progress, nodeArgs })) record(m);
    }
  }

  // ---- 9. RSS with a big NAR pushed and pulled ----
  if (only.has('bignar')) {
    for (const kind of dbs) {
      for (const m of await runBigNar({ kind, dir: path.join(work, `bignar-${kind}`), bytes: bigNarBytes, progress, nodeArgs })) record(m);
    }
  }

  // ---- 10. results ----
  progress.step('writing results');
  const rows = summarize(measurements);
  const meta = { date, commit: `${commit}${dirty ? '-dirty' : ''}`, machine };
  mkdirSync(outDir, { recursive: true });
  const csv = toCsv(rows, meta);
  const md = renderResults(rows, closureFacts);
  writeFileSync(path.join(outDir, 'results.csv'), csv);
  writeFileSync(path.join(outDir, 'results.md'), md);
  writeFileSync(path.join(outDir, 'measurements.json'), JSON.stringify({ meta, measurements }, null, 1));
  await writeChart(rows, path.join(outDir, 'chart.png'), `forge vs nginx — ${meta.commit}, ${date}`);
  if (!quick && !args.out) {
    const results = path.join(REPO, 'bench/results');
    mkdirSync(results, { recursive: true });
    writeFileSync(path.join(results, `${stamp}.csv`), csv);
    await writeChart(rows, path.join(results, `${stamp}.png`), `forge vs nginx — ${meta.commit}, ${date}`);
    rmSync(path.join(results, `${stamp}.svg`), { force: true });
    if (updateDocs) updateBenchmarksDoc(md, stamp);
  }
  progress.tick();
  progress.stop();
  process.stdout.write(md + '\n');
  process.stdout.write(`results: ${outDir}\n`);
}

/** A store path hash that no cache holds (nix32 alphabet, fixed per index). */
function missHash(i: number): string {
  const alphabet = '0123456789abcdfghijklmnpqrsvwxyz';
  let x = (i + 1) * 2654435761;
  let s = '';
  for (let k = 0; k < 32; k++) {
    x = (x * 1103515245 + 12345) % 2147483648;
    s += alphabet[x % 32];
  }
  return s;
}

function renderResults(rows: ReturnType<typeof summarize>, c: { narTotal: number; paths: number; summary: ReturnType<typeof summarizeSpec>; copyMs: Record<string, number> } | undefined): string {
  return [
    `Run \`${stamp}\` (${date}, commit \`${commit}${dirty ? '-dirty' : ''}\`) on ${machine}.`,
    !c ? `Stages: ${[...only].join(', ')} (no closure).` : `Closure: ${c.paths} paths, ${(c.narTotal / MiB).toFixed(0)} MiB of NAR, largest path ${(c.summary.largest / MiB).toFixed(1)} MiB, median ${(c.summary.median / 1024).toFixed(0)} KiB, ${c.summary.references} references; seed ${args.seed}.`,
    `Repetitions: ${reps} (medians shown); wrk: ${wrkSeconds} s, 2 threads, 64 connections; nginx worker_processes ${args['nginx-workers']}; server access log ${args['access-log'] === '0' ? 'off' : 'on'}.`,
    `Ratios in bold: server ÷ nginx (time; nginx ÷ server for req/s), from the same run; push: ÷ nginx WebDAV; scale: 1M ÷ 1k.`,
    '',
    toMarkdown(rows),
  ].join('\n');
}

function updateBenchmarksDoc(md: string, stampName: string): void {
  const doc = path.join(REPO, 'docs/benchmarks.md');
  if (!existsSync(doc)) return;
  const text = readFileSync(doc, 'utf8');
  const start = '<!-- bench:results:start -->';
  const end = '<!-- bench:results:end -->';
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return;
  const block = `${start}\n${md}\n![ratios to nginx](../bench/results/${stampName}.png)\n\nCSV: [bench/results/${stampName}.csv](../bench/results/${stampName}.csv)\n${end}`;
  writeFileSync(doc, text.slice(0, a) + block + text.slice(b + end.length));
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  progress.stop();
  process.stderr.write(`\nbench failed: ${(err as Error).stack ?? err}\n`);
  process.stderr.write(`work directory kept: ${work}\n`);
} finally {
  for (const s of servers) await s.destroy().catch(() => {});
  await nginx?.stop().catch(() => {});
  if (!failed && !args.keep) rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);

export type { NixClient };
