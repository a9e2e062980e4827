/**
 * Serving directly and several processes (issue 10), each against the reference that does
 * the same work without the server:
 * - `nar_cN_<c>_accel`: nginx in front of the server with FORGE_SERVE_DIRECT=accel
 *   (deploy/nginx-accel.conf) against nginx serving the `file://` copy of the same NARs.
 * - `nar_cN_<c>_s3`: the server with FORGE_STORAGE=s3 and FORGE_SERVE_DIRECT=redirect, its
 *   redirects followed, against the S3 server serving the same objects from the same
 *   presigned URLs without the server in front.
 * - `narinfo_hit_c64_*_2w`: wrk at 64 connections against FORGE_WORKERS=2 on PostgreSQL
 *   against nginx with two worker processes.
 * The accel and workers servers share the PostgreSQL database and blob directory of the
 * main run's `forge-postgres` (same cache, no second push); the S3 server gets the closure
 * pushed by `nix copy`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { copyTo, type NixClient } from '../../test/support/nix/index.js';
import { freePort as supportFreePort, renderDeployConfig, startNginx as startSupportNginx } from '../../test/support/nginx/index.js';
import { startNginx } from './nginx.js';
import type { Progress } from './progress.js';
import type { Measurement } from './report.js';
import { createBenchUser, createServer, REPO, type ServerUnderTest } from './server.js';
import { loadgen, wrk, type Target } from './targets.js';
import { fmtMs, MiB } from './util.js';

export interface DirectOptions {
  work: string;
  /** The main run's server on PostgreSQL (its database and blobs are reused). */
  postgres: ServerUnderTest;
  /** nginx serving the file:// copies (the main run's reference). */
  nginxTarget: Target;
  cachesRoot: string;
  /** NAR request paths of the main run's forge-postgres target, by compression. */
  narPaths: (compression: 'none' | 'zstd') => string[];
  /** The same NARs' paths on the nginx target. */
  nginxNarPaths: (compression: 'none' | 'zstd') => string[];
  narinfoHashes: string[];
  client: NixClient;
  closureRoots: string[];
  reps: number;
  wrkSeconds: number;
  nginxWorkers: string;
  accessLog: string;
  progress: Progress;
  record: (m: Measurement) => void;
}

const compressions = ['none', 'zstd'] as const;

export async function runDirect(o: DirectOptions): Promise<void> {
  const { progress, record } = o;
  const started: Array<{ stop(): Promise<void> }> = [];
  const sharing = (extra: Record<string, string>) => ({
    FORGE_ACCESS_LOG: o.accessLog,
    FORGE_STORAGE_PATH: path.join(o.postgres.dataDir, 'blobs'),
    FORGE_SECRET_FILE: path.join(o.postgres.dataDir, 'secret.key'),
    ...extra,
  });
  try {
    // ---- accel: nginx → server (access check) → X-Accel-Redirect → nginx sendfile ----
    progress.step('accel: a server with FORGE_SERVE_DIRECT=accel behind nginx');
    const accel = await createServer({ kind: 'postgres', dir: path.join(o.work, 'accel'), databaseName: o.postgres.databaseName, env: sharing({ FORGE_SERVE_DIRECT: 'accel' }) });
    started.push({ stop: () => accel.destroy() });
    await accel.start();
    const accelPort = await supportFreePort();
    const accelNginx = await startSupportNginx({
      dir: path.join(o.work, 'nginx-accel'),
      waitForPort: accelPort,
      workers: o.nginxWorkers,
      httpBlocks: renderDeployConfig('deploy/nginx-accel.conf', [
        ['server 127.0.0.1:3000;', `server 127.0.0.1:${accel.port};`],
        ['listen 80;', `listen 127.0.0.1:${accelPort};`],
        ['/var/lib/forge/blobs/', `${path.join(o.postgres.dataDir, 'blobs')}/`],
      ]),
    });
    started.push(accelNginx);
    const accelTarget: Target = { ...o.nginxTarget, name: 'forge-accel', port: accelPort, base: (c) => `/api/packages/p-${c}-1/nix`, pid: accel.pid, tree: false };
    progress.tick();
    for (const compression of compressions) {
      // Both read from the page cache in the measured runs (with --only direct the main
      // NAR stage has not warmed nginx's files).
      progress.step(`accel warm-up (${compression})`);
      await loadgen(o.nginxTarget, { kind: 'pool', concurrency: 4, paths: o.nginxNarPaths(compression) });
      await loadgen(accelTarget, { kind: 'pool', concurrency: 4, paths: o.narPaths(compression) });
      progress.tick();
    }
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const compression of compressions) {
        for (const c of [1, 16]) {
          for (const [t, paths] of [
            [o.nginxTarget, o.nginxNarPaths(compression)],
            [accelTarget, o.narPaths(compression)],
          ] as const) {
            progress.step(`nar_c${c}_${compression}_accel #${rep} → ${t.name}`);
            const r = await loadgen(t, { kind: 'pool', concurrency: c, paths });
            if (r.statuses['200'] !== paths.length) throw new Error(`${t.name}: accel NAR statuses ${JSON.stringify(r.statuses)}`);
            record({ section: 'direct', metric: `nar_c${c}_${compression}_accel`, unit: 'ms', target: t.name, values: [r.ms], rssPeak: r.rssPeak, better: 'lower', reference: t === o.nginxTarget ? undefined : 'nginx', goal: 1.05 });
            progress.tick(`nar_c${c}_${compression}_accel #${rep} → ${t.name}: ${fmtMs(r.ms)} (${(r.bytes / MiB / (r.ms / 1000)).toFixed(0)} MiB/s)`);
          }
        }
      }
    }
    await accelNginx.stop();
    await accel.destroy();

    // ---- S3: the server redirects to presigned URLs; the S3 server serves them ----
    progress.step('s3: an S3 server, a server with FORGE_STORAGE=s3 and FORGE_SERVE_DIRECT=redirect, the closure pushed');
    const s3 = await startS3Process(path.join(o.work, 's3'));
    started.push(s3);
    const redirect = await createServer({
      kind: 'postgres',
      dir: path.join(o.work, 'redirect'),
      env: {
        FORGE_ACCESS_LOG: o.accessLog,
        FORGE_STORAGE: 's3',
        FORGE_S3_ENDPOINT: s3.info.endpoint,
        FORGE_S3_REGION: s3.info.region,
        FORGE_S3_BUCKET: s3.info.bucket,
        FORGE_S3_ACCESS_KEY_ID: s3.info.accessKeyId,
        FORGE_S3_SECRET_ACCESS_KEY: s3.info.secretAccessKey,
        FORGE_SERVE_DIRECT: 'redirect',
        // The reference replays the same URLs for the whole run.
        FORGE_SERVE_DIRECT_EXPIRY: '2h',
      },
    });
    started.push({ stop: () => redirect.destroy() });
    await redirect.start();
    const token = await createBenchUser(redirect);
    for (const compression of compressions) {
      await redirect.cli(['admin', 'org', 'create', '--name', `p-${compression}-1`, '--owner', 'bench']);
      o.client.setNetrc([{ machine: '127.0.0.1', password: token }]);
      o.client.clearCache();
      const t0 = performance.now();
      o.client.assertOk(await copyTo(o.client, `${redirect.url}/api/packages/p-${compression}-1/nix`, o.closureRoots, { compression }));
      progress.log(`pushed the closure (${compression}) to the S3-backed server in ${fmtMs(performance.now() - t0)}`);
    }
    const redirectTarget: Target = { name: 'forge-redirect', host: '127.0.0.1', port: redirect.port, base: (c) => `/api/packages/p-${c}-1/nix`, pid: redirect.pid, tree: false };
    const s3Target: Target = { name: 's3-direct', host: '127.0.0.1', port: s3.info.port, base: () => '', pid: () => s3.pid, tree: false };
    const redirectPaths = new Map<string, string[]>();
    const directPaths = new Map<string, string[]>();
    for (const compression of compressions) {
      const naps: string[] = [];
      const presigned: string[] = [];
      for (const h of o.narinfoHashes) {
        const text = await (await fetch(`${redirect.url}${redirectTarget.base(compression)}/${h}.narinfo`)).text();
        const nar = `${redirectTarget.base(compression)}/${/^URL: (.*)$/m.exec(text)![1]}`;
        naps.push(nar);
        const res = await fetch(`${redirect.url}${nar}`, { redirect: 'manual' });
        if (res.status !== 302) throw new Error(`forge-redirect: ${nar}: ${res.status}`);
        const location = new URL(res.headers.get('location')!);
        if (location.port !== String(s3.info.port)) throw new Error(`forge-redirect sends clients to ${location.host}, not the S3 server`);
        presigned.push(`${location.pathname}${location.search}`);
      }
      redirectPaths.set(compression, naps);
      directPaths.set(compression, presigned);
    }
    progress.tick();
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const compression of compressions) {
        for (const c of [1, 16]) {
          for (const [t, paths, follow] of [
            [s3Target, directPaths.get(compression)!, false],
            [redirectTarget, redirectPaths.get(compression)!, true],
          ] as const) {
            progress.step(`nar_c${c}_${compression}_s3 #${rep} → ${t.name}`);
            const r = await loadgen(t, { kind: 'pool', concurrency: c, paths, followRedirects: follow });
            if (r.statuses['200'] !== paths.length) throw new Error(`${t.name}: S3 NAR statuses ${JSON.stringify(r.statuses)}`);
            record({ section: 'direct', metric: `nar_c${c}_${compression}_s3`, unit: 'ms', target: t.name, values: [r.ms], rssPeak: r.rssPeak, better: 'lower', reference: t === s3Target ? undefined : 's3-direct' });
            progress.tick(`nar_c${c}_${compression}_s3 #${rep} → ${t.name}: ${fmtMs(r.ms)} (${(r.bytes / MiB / (r.ms / 1000)).toFixed(0)} MiB/s)`);
          }
        }
      }
    }
    await redirect.destroy();
    await s3.stop();

    // ---- FORGE_WORKERS=2 against nginx with two workers: narinfo hits at 64 connections ----
    progress.step('workers: FORGE_WORKERS=2 on PostgreSQL, nginx with worker_processes 2');
    const workers = await createServer({ kind: 'postgres', dir: path.join(o.work, 'workers'), databaseName: o.postgres.databaseName, env: sharing({ FORGE_WORKERS: '2' }) });
    started.push({ stop: () => workers.destroy() });
    await workers.start();
    const nginx2 = await startNginx({ dir: path.join(o.work, 'nginx-2w'), cachesRoot: o.cachesRoot, workers: '2' });
    started.push(nginx2);
    const targets: Target[] = [
      { ...o.nginxTarget, name: 'nginx-2w', port: nginx2.staticPort, pid: () => nginx2.pid, tree: true },
      { name: 'forge-postgres-2w', host: '127.0.0.1', port: workers.port, base: (c) => `/api/packages/p-${c}-1/nix`, pid: workers.pid, tree: true },
    ];
    // Both workers warm (connections are handed out round robin).
    await loadgen(targets[1]!, { kind: 'pool', concurrency: 8, paths: o.narinfoHashes.map((h) => `${targets[1]!.base('zstd')}/${h}.narinfo`), passes: 2 });
    progress.tick();
    for (let rep = 1; rep <= o.reps; rep++) {
      for (const t of targets) {
        progress.step(`wrk narinfo hits (2 workers) #${rep} → ${t.name}`);
        const paths = o.narinfoHashes.map((h) => `${t.base('zstd')}/${h}.narinfo`);
        const r = await wrk(t, paths, { dir: o.work, name: `${t.name}-hit`, seconds: o.wrkSeconds });
        if (r.errors_status > 0 || r.errors_connect + r.errors_read + r.errors_timeout > 0) throw new Error(`${t.name}: wrk with two workers: ${JSON.stringify(r)}`);
        const base = { section: 'direct' as const, target: t.name, rssPeak: r.rssPeak, reference: t.name === 'nginx-2w' ? undefined : 'nginx-2w' };
        record({ ...base, metric: 'narinfo_hit_c64_rps_2w', unit: 'req/s', values: [r.rps], better: 'higher' });
        record({ ...base, metric: 'narinfo_hit_c64_p50_2w', unit: 'ms', values: [r.p50_us / 1000], better: 'lower' });
        record({ ...base, metric: 'narinfo_hit_c64_p99_2w', unit: 'ms', values: [r.p99_us / 1000], better: 'lower' });
        progress.tick(`wrk 2 workers #${rep} → ${t.name}: ${r.rps.toFixed(0)} req/s, p50 ${(r.p50_us / 1000).toFixed(2)} ms`);
      }
    }
  } finally {
    for (const s of started.reverse()) await s.stop().catch(() => {});
  }
}

interface S3Info {
  endpoint: string;
  port: number;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** test/support/s3 as its own process, so its CPU is not the harness's. */
async function startS3Process(dir: string): Promise<{ info: S3Info; pid: number; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'test/support/s3/cli.ts'), '--dir', dir, '--bucket', 'forge'], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const info = await new Promise<S3Info>((resolve, reject) => {
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && out.includes('\n')) resolve(JSON.parse(line) as S3Info);
    });
    child.once('exit', (code) => reject(new Error(`the S3 server exited with ${code}: ${err}`)));
  });
  return {
    info,
    pid: child.pid!,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
