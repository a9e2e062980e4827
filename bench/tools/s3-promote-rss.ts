/**
 * Peak RSS of this process while it stages a large blob and promotes it to S3 (the test S3
 * server runs as its own process): `node --import tsx bench/tools/s3-promote-rss.ts [MiB]`.
 * The S3 store's memory per promote is bounded by its part size × (parts in flight + 1);
 * this shows it holds for a blob of the given size (default 2048 MiB).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createS3BlobStore } from '../../packages/blob-store/src/index.js';

const mib = Number(process.argv[2] ?? 2048);
const dir = mkdtempSync(path.join(tmpdir(), 'forge-s3-rss-'));
const server = spawn(process.execPath, ['--import', 'tsx', path.resolve(import.meta.dirname, '../../test/support/s3/cli.ts'), '--dir', path.join(dir, 's3')], { stdio: ['ignore', 'pipe', 'inherit'] });
const info = await new Promise<{ endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string }>((resolve) => {
  let out = '';
  server.stdout!.on('data', (d) => {
    out += d;
    if (out.includes('\n')) resolve(JSON.parse(out.split('\n')[0]!));
  });
});
let peak = 0;
const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
const timer = setInterval(sample, 20);
try {
  const store = createS3BlobStore({ ...info, forcePathStyle: true, stagingDir: path.join(dir, 'staging') });
  const chunk = randomBytes(1024 * 1024);
  async function* body() {
    for (let i = 0; i < mib; i++) {
      chunk[0] = i & 0xff; // distinct chunks, one buffer
      yield chunk;
    }
  }
  const before = process.memoryUsage().rss;
  const t0 = performance.now();
  const staged = await store.stage(body());
  const t1 = performance.now();
  await staged.promote();
  const t2 = performance.now();
  await staged.discard();
  sample();
  console.log(
    JSON.stringify({
      mib,
      rssBeforeMB: Math.round(before / 1e6),
      rssPeakMB: Math.round(peak / 1e6),
      stageMs: Math.round(t1 - t0),
      promoteMs: Math.round(t2 - t1),
      stored: await store.stat(staged.sha256),
    }),
  );
  store.destroy();
} finally {
  clearInterval(timer);
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
