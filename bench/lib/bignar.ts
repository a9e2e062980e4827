/**
 * Peak RSS of the server while one big NAR (compression none; 2 GiB by default) is pushed
 * over HTTP (PUT nar + PUT narinfo, as `nix copy` does, with full verification) and pulled
 * (one download, then four at once). The server is fresh, so its baseline is an idle
 * process's.
 */
import path from 'node:path';
import type { Measurement } from './report.js';
import type { Progress } from './progress.js';
import { uploadSyntheticPath } from './nar.js';
import { createBenchUser, createServer, type DbKind } from './server.js';
import { loadgen, type Target } from './targets.js';
import { fmtMs, MiB, rssOf, RssSampler } from './util.js';

export async function runBigNar(o: { kind: DbKind; dir: string; bytes: number; progress: Progress; nodeArgs: string[] }): Promise<Measurement[]> {
  const name = `forge-${o.kind}`;
  const size = `${(o.bytes / MiB).toFixed(0)}MiB`;
  o.progress.step(`big NAR (${size}) → ${name}: push`);
  const sut = await createServer({ kind: o.kind, dir: o.dir, nodeArgs: o.nodeArgs });
  const out: Measurement[] = [];
  try {
    await sut.start();
    const token = await createBenchUser(sut);
    const cache = `${sut.url}/api/packages/bench/nix`;
    const idle = rssOf(sut.pid()!);
    const sampler = new RssSampler(sut.pid, 50);
    const up = await uploadSyntheticPath(cache, token, `big-nar-${size}`, o.bytes, { beforeNarPut: () => sampler.start(), afterNarPut: () => undefined });
    const pushPeak = sampler.stop();
    const base = { section: 'bignar' as const, target: name, unit: 's', better: 'lower' as const };
    out.push({ ...base, metric: `idle_rss`, unit: 'MB', values: [idle / 1e6], rssPeak: idle });
    out.push({ ...base, metric: `bignar_${size}_push`, values: [up.narPutMs / 1000], rssPeak: pushPeak });
    const target: Target = { name, host: '127.0.0.1', port: sut.port, base: () => '/api/packages/bench/nix', pid: sut.pid, tree: false };
    const narPath = `/api/packages/bench/nix/${up.url}`;
    const c1 = await loadgen(target, { kind: 'pool', concurrency: 1, paths: [narPath] });
    if (c1.bytes !== up.narSize) throw new Error(`big NAR pull: got ${c1.bytes} bytes of ${up.narSize}`);
    out.push({ ...base, metric: `bignar_${size}_pull_c1`, values: [c1.ms / 1000], rssPeak: c1.rssPeak });
    const c4 = await loadgen(target, { kind: 'pool', concurrency: 4, paths: [narPath, narPath, narPath, narPath] });
    out.push({ ...base, metric: `bignar_${size}_pull_c4`, values: [c4.ms / 1000], rssPeak: c4.rssPeak });
    o.progress.tick(
      `big NAR ${size} → ${name}: push ${fmtMs(up.narPutMs)} (peak RSS ${(pushPeak / 1e6).toFixed(0)} MB), pull ${fmtMs(c1.ms)} (peak ${(c1.rssPeak / 1e6).toFixed(0)} MB), 4 pulls ${fmtMs(c4.ms)} (peak ${(c4.rssPeak / 1e6).toFixed(0)} MB)`,
    );
  } finally {
    await sut.destroy();
  }
  return out;
}
