/** Running the load generator and wrk against a target, with RSS sampling of the target. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadJob, LoadResult } from '../loadgen.js';
import { run, RssSampler } from './util.js';

const LOADGEN = path.resolve(import.meta.dirname, '../loadgen.ts');

/** A server being measured: where its cache lives and which process to watch. */
export interface Target {
  name: string;
  host: string;
  port: number;
  /** Path prefix of the binary cache, e.g. /zstd or /api/packages/p-zstd-1/nix */
  base: (compression: 'none' | 'zstd') => string;
  pid: () => number | undefined;
  /** nginx: master plus workers. */
  tree: boolean;
  authorization?: string;
}

/** Runs one load-generator job in its own process and returns its result and the target's peak RSS. */
export async function loadgen(target: Target, job: Omit<LoadJob, 'host' | 'port'>): Promise<LoadResult & { rssPeak: number }> {
  const sampler = new RssSampler(target.pid, 50, target.tree).start();
  const r = await run(process.execPath, ['--import', 'tsx', LOADGEN], {
    input: JSON.stringify({ ...job, host: target.host, port: target.port }),
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  const rssPeak = sampler.stop();
  if (r.code !== 0) throw new Error(`load generator failed against ${target.name}: ${r.stderr}`);
  return { ...(JSON.parse(r.stdout) as LoadResult), rssPeak };
}

export interface WrkResult {
  requests: number;
  duration_us: number;
  errors_connect: number;
  errors_read: number;
  errors_write: number;
  errors_status: number;
  errors_timeout: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  mean_us: number;
  rps: number;
  rssPeak: number;
}

/** wrk with 64 connections (2 threads) over a list of request paths, round-robin. */
export async function wrk(target: Target, paths: string[], options: { dir: string; name: string; seconds: number; connections?: number; threads?: number }): Promise<WrkResult> {
  const file = path.join(options.dir, `${options.name}.paths`);
  writeFileSync(file, paths.join('\n') + '\n');
  const headers = target.authorization ? ['-H', `Authorization: ${target.authorization}`] : [];
  const sampler = new RssSampler(target.pid, 100, target.tree).start();
  const r = await run(
    'wrk',
    ['-t', String(options.threads ?? 2), '-c', String(options.connections ?? 64), '-d', `${options.seconds}s`, '--timeout', '10s', ...headers, '-s', path.resolve(import.meta.dirname, '../narinfo.lua'), `http://${target.host}:${target.port}`],
    { env: { ...process.env, WRK_PATHS: file } },
  );
  const rssPeak = sampler.stop();
  const line = r.stdout.split('\n').find((l) => l.startsWith('{"requests"'));
  if (r.code !== 0 || !line) throw new Error(`wrk failed against ${target.name}: ${r.stderr}${r.stdout}`);
  const w = JSON.parse(line) as Omit<WrkResult, 'rps' | 'rssPeak'>;
  return { ...w, rps: w.requests / (w.duration_us / 1e6), rssPeak };
}
