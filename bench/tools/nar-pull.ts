/**
 * A focused experiment for profiling NAR downloads: starts one server (PGlite or
 * PostgreSQL), uploads one synthetic NAR, and pulls it `--pulls` times with the load
 * generator, printing each time. Extra node arguments (e.g. --cpu-prof) go to the server.
 *
 *   node --import tsx bench/tools/nar-pull.ts --db postgres --mib 512 --pulls 5 [--concurrency 1] [--node-args "--cpu-prof"]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { uploadSyntheticPath } from '../lib/nar.js';
import { createBenchUser, createServer, type DbKind } from '../lib/server.js';
import { loadgen } from '../lib/targets.js';
import { MiB } from '../lib/util.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string', default: 'postgres' },
    mib: { type: 'string', default: '512' },
    pulls: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '1' },
    'node-args': { type: 'string', default: '' },
    env: { type: 'string', default: '' },
  },
});
const dir = mkdtempSync(path.join(tmpdir(), 'forge-nar-pull-'));
const env = Object.fromEntries(values.env!.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
const sut = await createServer({ kind: values.db as DbKind, dir, nodeArgs: values['node-args']!.split(' ').filter(Boolean), env });
try {
  await sut.start();
  const token = await createBenchUser(sut);
  const up = await uploadSyntheticPath(`${sut.url}/api/packages/bench/nix`, token, 'pull-test', Number(values.mib) * MiB);
  console.log(`push ${(up.narPutMs / 1000).toFixed(2)} s`);
  const c = Number(values.concurrency);
  const target = { name: sut.kind, host: '127.0.0.1', port: sut.port, base: () => '', pid: sut.pid, tree: false };
  for (let i = 0; i < Number(values.pulls); i++) {
    const r = await loadgen(target, { kind: 'pool', concurrency: c, paths: Array(c).fill(`/api/packages/bench/nix/${up.url}`) });
    console.log(`pull x${c}: ${r.ms.toFixed(0)} ms, ${((r.bytes / MiB) / (r.ms / 1000)).toFixed(0)} MiB/s, peak RSS ${(r.rssPeak / 1e6).toFixed(0)} MB`);
  }
} finally {
  await sut.destroy();
  rmSync(dir, { recursive: true, force: true });
}
