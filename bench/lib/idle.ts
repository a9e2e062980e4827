/**
 * Idle memory (issue 11, item 7): the server's RSS on a fresh install, once it has settled,
 * and again after a restart on the same (now existing) database; and the peak reached
 * while starting (VmHWM). On PGlite this is mostly the embedded database's WebAssembly
 * memory (docs/benchmarks.md, "Idle memory").
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Measurement } from './report.js';
import type { Progress } from './progress.js';
import { createServer, type DbKind } from './server.js';
import { median, rssOf, sleep } from './util.js';

/** How long a started server is left alone before its RSS is read (timers, lazy loads, GC settle), and samples taken. */
const FULL = { settleMs: 10_000, samples: 5 };
/** --quick (the smoke test): a shorter look, fresh install only. */
const QUICK = { settleMs: 2_000, samples: 2 };

function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function settledRss(pid: number, how: typeof FULL): Promise<number> {
  await sleep(how.settleMs);
  const samples: number[] = [];
  for (let i = 0; i < how.samples; i++) {
    samples.push(rssOf(pid));
    await sleep(1000);
  }
  return median(samples);
}

export async function runIdle(o: { kind: DbKind; dir: string; progress: Progress; nodeArgs: string[]; quick: boolean }): Promise<Measurement[]> {
  const how = o.quick ? QUICK : FULL;
  const name = `forge-${o.kind}`;
  const sut = await createServer({ kind: o.kind, dir: path.join(o.dir, o.kind), nodeArgs: o.nodeArgs });
  const base = { section: 'idle' as const, target: name, unit: 'MB', better: 'lower' as const };
  const out: Measurement[] = [];
  try {
    o.progress.step(`idle RSS → ${name}: fresh install`);
    await sut.start();
    const fresh = await settledRss(sut.pid()!, how);
    const startPeak = peakRss(sut.pid()!);
    out.push({ ...base, metric: 'idle_rss_fresh', values: [fresh / 1e6], rssPeak: startPeak });
    o.progress.tick(`idle RSS → ${name}: fresh install ${(fresh / 1e6).toFixed(0)} MB (peak while starting ${(startPeak / 1e6).toFixed(0)} MB)`);
    if (o.quick) return out;
    o.progress.step(`idle RSS → ${name}: restarted`);
    await sut.stop();
    await sut.start();
    const restarted = await settledRss(sut.pid()!, how);
    out.push({ ...base, metric: 'idle_rss_restart', values: [restarted / 1e6], rssPeak: peakRss(sut.pid()!) });
    o.progress.tick(`idle RSS → ${name}: restarted ${(restarted / 1e6).toFixed(0)} MB`);
  } finally {
    await sut.destroy();
  }
  return out;
}
