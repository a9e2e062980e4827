/** Small helpers shared by the benchmark harness: statistics, processes, /proc sampling. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of unsorted values. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[rank]!;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitForHttp(url: string, timeoutMs = 60_000, child?: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`process exited with ${child.exitCode} before ${url} answered`);
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      if (res.status < 500) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > until) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await sleep(100);
  }
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs a command to completion, collecting its output; throws on a non-zero exit when `check`. */
export function run(cmd: string, args: string[], options: SpawnOptions & { check?: boolean; input?: string } = {}): Promise<RunResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...options, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const r = { code, stdout, stderr, ms: performance.now() - started };
      if (options.check && code !== 0) reject(new Error(`${cmd} ${args.join(' ')} exited with ${code}\n${stderr.slice(-4000)}`));
      else resolve(r);
    });
    child.stdin!.end(options.input ?? '');
  });
}

/** Resident set size of a process in bytes (VmRSS), or 0 when it is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Direct children of a process (nginx workers of its master). */
export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The RSS of a process plus its direct children (nginx: master + workers). */
export function treeRss(pid: number): number {
  return rssOf(pid) + childrenOf(pid).reduce((a, c) => a + rssOf(c), 0);
}

/**
 * Samples RSS every `intervalMs` while work runs; returns the peak (bytes). Sampling is a
 * read of /proc/<pid>/status from this (the orchestrating) process.
 */
export class RssSampler {
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly pid: () => number | undefined,
    private readonly intervalMs = 100,
    private readonly tree = false,
  ) {}
  start(): this {
    this.#peak = 0;
    this.sample();
    this.#timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }
  sample(): void {
    const pid = this.pid();
    if (!pid) return;
    const v = this.tree ? treeRss(pid) : rssOf(pid);
    if (v > this.#peak) this.#peak = v;
  }
  stop(): number {
    this.sample();
    clearInterval(this.#timer);
    return this.#peak;
  }
}

export const MiB = 1024 * 1024;
export const fmtMs = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : ms >= 100 ? `${ms.toFixed(0)} ms` : `${ms.toFixed(2)} ms`);

/** A seeded integer generator: rand(n) in [0, n). */
export function prngInt(seed: string): (n: number) => number {
  let h = 2166136261;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  let a = h;
  return (n: number) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}
