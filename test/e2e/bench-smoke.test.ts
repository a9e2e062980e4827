/**
 * Keeps the benchmark harness from rotting: runs `bench/run.ts --quick` end to end (small
 * closure, one repetition, every metric, both databases where available) and checks that it
 * produced a CSV with every metric, the Markdown table and the PNG chart. It asserts
 * nothing about speed: performance is measured by the harness (docs/benchmarks.md), never
 * by timed tests. In CI a missing nix, nginx or wrk fails this test.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { findExecutable, requireNix } from '../support/nix/index.js';

const REPO = path.resolve(import.meta.dirname, '../..');

function requireTool(name: string, candidates: string[]): boolean {
  if (findExecutable(name) || candidates.some((c) => existsSync(c))) return true;
  const message = `${name} is not installed (apt-get install ${name})`;
  if (process.env.CI) throw new Error(`${message}; CI must run the benchmark smoke test.`);
  console.warn(`\n!!! ${message}: SKIPPING the benchmark smoke test. !!!\n`);
  return false;
}

const nix = requireNix();
const ready = nix.available && requireTool('nginx', ['/usr/sbin/nginx']) && requireTool('wrk', ['/usr/bin/wrk']);
const kinds = ready ? await testDatabaseKinds() : [];

describe.runIf(ready)('npm run bench -- --quick', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'forge-bench-smoke-'));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  // Its own limit: a quick run takes 6–12 minutes on the shared two-core machine.
  it('runs every metric end to end and writes the CSV, the table and the chart', { timeout: 1_500_000 }, async () => {
    const args = ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out, '--dbs', kinds.join(',')];
    const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, args, { cwd: REPO, env: { ...process.env, NODE_OPTIONS: '' } });
      let o = '';
      let e = '';
      child.stdout.on('data', (d) => (o += d));
      child.stderr.on('data', (d) => (e += d));
      child.on('close', (c) => resolve({ code: c, stdout: o, stderr: e }));
    });
    expect(code, `bench failed:\n${stderr.slice(-6000)}`).toBe(0);
    expect(stdout).toContain('| narinfo_all |');
    expect(stdout).toMatch(/\| idle_rss_fresh \| MB \| \d+/);

    const csv = readFileSync(path.join(out, 'results.csv'), 'utf8');
    // Fields are split on commas outside double quotes (the machine description has commas).
    const rows = csv.trim().split('\n').slice(1).map((l) => l.match(/("([^"]|"")*"|[^,]*)(,|$)/g)!.map((f) => f.replace(/,$/, '')));
    const have = (metric: string, target: string) => rows.some((r) => r[4] === metric && r[6] === target && Number(r[8]) > 0);
    for (const kind of kinds) {
      const server = `forge-${kind}`;
      for (const metric of ['push_none', 'push_zstd', 'narinfo_all', 'nar_c1_none', 'nar_c4_none', 'nar_c16_none', 'nar_c1_zstd', 'nar_c16_zstd', 'narinfo_hit_c64_rps', 'narinfo_miss_c64_p99']) {
        expect(have(metric, server), `${metric} for ${server}`).toBe(true);
      }
      expect(have('lookup_hit_p50', `${server}-1k`) && have('lookup_hit_p50', `${server}-10k`), `scale run for ${server}`).toBe(true);
      expect(rows.some((r) => r[4]!.startsWith('bignar_') && r[4]!.endsWith('_push') && r[6] === server && Number(r[15]) > 0), `big-NAR RSS for ${server}`).toBe(true);
    }
    expect(have('narinfo_all', 'nginx') && have('push_zstd', 'nginx-dav')).toBe(true);
    if (kinds.includes('postgres')) {
      // Serving directly and FORGE_WORKERS (bench/lib/direct.ts), each with its reference.
      for (const [metric, target, reference] of [
        ['nar_c1_none_accel', 'forge-accel', 'nginx'],
        ['nar_c16_zstd_accel', 'forge-accel', 'nginx'],
        ['nar_c1_none_s3', 'forge-redirect', 's3-direct'],
        ['nar_c16_zstd_s3', 'forge-redirect', 's3-direct'],
        ['narinfo_hit_c64_rps_2w', 'forge-postgres-2w', 'nginx-2w'],
      ] as const) {
        expect(have(metric, target) && have(metric, reference), `${metric}: ${target} and ${reference}`).toBe(true);
      }
    }
    // Ratios to nginx are computed in the same run.
    expect(rows.find((r) => r[4] === 'narinfo_all' && r[6] === `forge-${kinds[0]}`)![13]).toMatch(/^\d/);

    const png = readFileSync(path.join(out, 'chart.png'));
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.length).toBeGreaterThan(10_000);
  });
});
