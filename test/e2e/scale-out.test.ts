/**
 * The scale-out deployment on one machine, as docker-compose.yml runs it: two server
 * processes (the built server, as `npm start` runs it) on one PostgreSQL and one
 * S3-protocol endpoint, behind nginx running deploy/nginx.conf. The stock Nix 2.8 client
 * pushes a closure through the balancer; one process is killed with `kill -9` in the
 * middle of a second push, which is retried and completes; both closures substitute back
 * through the balancer with only the server key trusted, their NARs redirected to
 * presigned S3 URLs; nothing is stored on the servers' disks but staging.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { buildClosure, copyTo, createNixClient, deleteLocal, realiseFromSubstituter, requireNix, validPaths, type BuiltClosure, type NixClient } from '../support/nix/index.js';
import { freePort, REPO, renderDeployConfig, requireNginx, startNginx, type RunningNginx } from '../support/nginx/index.js';
import { startS3Server, type S3TestServer } from '../support/s3/index.js';

const run = promisify(execFile);
const mainJs = path.join(REPO, 'apps/server/dist/main.js');
const forgeBin = path.join(REPO, 'apps/server/bin/forge.js');

const nix = requireNix();
const nginxThere = nix.available && requireNginx();
const postgres = nginxThere && (await testDatabaseKinds()).includes('postgres');
if (nginxThere && !existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);

const running = (p: ForgeProcess) => p.child.exitCode === null && p.child.signalCode === null;

interface ForgeProcess {
  name: string;
  port: number;
  dataDir: string;
  child: ChildProcess;
  log: string;
}

describe.runIf(nix.available && nginxThere && postgres)('two server processes on PostgreSQL and S3 behind nginx, with FORGE_SERVE_DIRECT=redirect', () => {
  let dir: string;
  let db: TestDatabase;
  let s3: S3TestServer;
  let nginx: RunningNginx;
  let lbPort: number;
  const processes: ForgeProcess[] = [];
  let env: NodeJS.ProcessEnv;
  let client: NixClient;
  let cacheUrl: string;
  let first: BuiltClosure;
  let second: BuiltClosure;

  async function startForge(name: string, port: number): Promise<ForgeProcess> {
    const dataDir = path.join(dir, name);
    const child = spawn('node', [mainJs], { env: { ...env, PORT: String(port), FORGE_DATA_DIR: dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc: ForgeProcess = { name, port, dataDir, child, log: '' };
    child.stdout!.on('data', (d) => (proc.log += d));
    child.stderr!.on('data', (d) => (proc.log += d));
    const deadline = Date.now() + 90_000;
    while (!proc.log.includes('"msg":"forge listening"')) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start:\n${proc.log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return proc;
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'forge-scale-out-'));
    db = await createTestDatabase('postgres');
    s3 = await startS3Server({ buckets: ['forge'] });
    lbPort = await freePort();
    const s3PublicPort = await freePort();
    const [p1, p2] = [await freePort(), await freePort()];
    env = {
      ...process.env,
      FORGE_LISTEN: '127.0.0.1',
      FORGE_BASE_URL: `http://127.0.0.1:${lbPort}`,
      DATABASE_URL: db.options.url,
      FORGE_SECRET: 'ab'.repeat(32),
      FORGE_STORAGE: 's3',
      FORGE_S3_ENDPOINT: s3.endpoint,
      FORGE_S3_PUBLIC_ENDPOINT: `http://127.0.0.1:${s3PublicPort}`,
      FORGE_S3_REGION: s3.region,
      FORGE_S3_BUCKET: 'forge',
      FORGE_S3_PREFIX: 'cache',
      FORGE_S3_ACCESS_KEY_ID: s3.accessKeyId,
      FORGE_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      FORGE_SERVE_DIRECT: 'redirect',
      LOG_LEVEL: 'info',
    };
    processes.push(await startForge('forge-1', p1), await startForge('forge-2', p2));
    nginx = await startNginx({
      dir: path.join(dir, 'nginx'),
      waitForPort: lbPort,
      httpBlocks: renderDeployConfig('deploy/nginx.conf', [
        ['server forge-1:3000', `server 127.0.0.1:${p1}`],
        ['server forge-2:3000', `server 127.0.0.1:${p2}`],
        ['listen 80;', `listen 127.0.0.1:${lbPort};`],
        ['listen 9000;', `listen 127.0.0.1:${s3PublicPort};`],
        ['proxy_pass http://minio:9000;', `proxy_pass http://127.0.0.1:${s3.port};`],
      ]),
    });

    const cli = (...args: string[]) => run('node', [forgeBin, ...args], { env: { ...env, FORGE_DATA_DIR: processes[0]!.dataDir } });
    await cli('admin', 'user', 'create', '--username', 'alice', '--password', 'alice-password', '--email', 'alice@example.test');
    const token = (await cli('admin', 'user', 'generate-access-token', '--username', 'alice', '--token-name', 'nix', '--scopes', 'read:package,write:package', '--raw')).stdout.trim();
    cacheUrl = `http://127.0.0.1:${lbPort}/api/packages/alice/nix`;
    // The netrc names the forge's host; the S3 endpoint clients are sent to is the same
    // host (127.0.0.1) on another port, the case where curl could add these credentials.
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: token }] });
    first = await buildClosure(client, [
      { name: 'scale-lib', size: 200_000, files: 3, content: 'text' },
      { name: 'scale-app', size: 100_000, content: 'binary', bin: true, references: ['scale-lib'] },
    ]);
    second = await buildClosure(
      client,
      Array.from({ length: 8 }, (_, i) => ({ name: `scale-big-${i}`, size: 1_500_000, content: 'binary' as const, references: i > 0 ? [`scale-big-${i - 1}`] : [] })),
    );
  });

  afterAll(async () => {
    if (client) await deleteLocal(client, [...(first?.outPaths ?? []), ...(first?.drvPaths ?? []), ...(second?.outPaths ?? []), ...(second?.drvPaths ?? [])]);
    await nginx?.stop();
    for (const p of processes) if (running(p)) p.child.kill('SIGKILL');
    await s3?.close();
    await db?.drop();
    if (process.env.FORGE_E2E_KEEP) for (const p of processes) writeFileSync(path.join(dir, `${p.name}.log`), p.log);
    if (dir && !process.env.FORGE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
    else if (dir) console.info(`kept ${dir}`);
  });

  /** Files under a server's data directory, relative to it. */
  const filesOf = (root: string, rel = ''): string[] =>
    existsSync(path.join(root, rel))
      ? readdirSync(path.join(root, rel)).flatMap((name) => {
          const r = path.join(rel, name);
          return statSync(path.join(root, r)).isDirectory() ? filesOf(root, r) : [r];
        })
      : [];

  it('pushes a closure through the balancer to both processes', async () => {
    const pushed = await copyTo(client, cacheUrl, first.roots, { compression: 'zstd' });
    expect(pushed.code, pushed.stderr).toBe(0);
    const upstreams = new Set(
      readFileSync(nginx.accessLog, 'utf8')
        .split('\n')
        .filter((line) => line.startsWith('PUT '))
        .map((line) => line.split(' ')[3]),
    );
    expect(upstreams.size).toBe(2);
  });

  it('completes a second push that a kill -9 of one process interrupted, once retried', async () => {
    // Uploads to the object store take a moment, so the kill lands mid-upload.
    s3.failNext({ match: (r) => r.method === 'PUT' && r.path.includes('/blobs/'), times: 1000, delayMs: 400 });
    const pushing = copyTo(client, cacheUrl, second.roots, { compression: 'none' });
    const stagingOf = (p: ForgeProcess) => filesOf(path.join(p.dataDir, 'blobs', 'tmp'));
    let victim: ForgeProcess | undefined;
    const deadline = Date.now() + 60_000;
    while (!victim && Date.now() < deadline) {
      victim = processes.find((p) => running(p) && stagingOf(p).length > 0);
      if (!victim) await new Promise((r) => setTimeout(r, 5));
    }
    expect(victim, 'no upload was seen in flight').toBeDefined();
    victim!.child.kill('SIGKILL');
    const firstAttempt = await pushing;
    console.info(`scale-out e2e: first attempt exit ${firstAttempt.code} after ${firstAttempt.durationMs} ms`);
    s3.clearFaults();
    let result = firstAttempt;
    if (firstAttempt.code !== 0) {
      expect(firstAttempt.stderr).toMatch(/502|Bad Gateway|HTTP error/);
      result = await copyTo(client, cacheUrl, second.roots, { compression: 'none' });
      console.info(`scale-out e2e: retry exit ${result.code} after ${result.durationMs} ms`);
    }
    expect(result.code, result.stderr).toBe(0);
    console.info(`scale-out e2e: the push interrupted by kill -9 ${firstAttempt.code === 0 ? 'completed through Nix’s own retries' : 'failed and was retried'}`);
    for (const p of second.outPaths) {
      expect((await fetch(`${cacheUrl}/${path.basename(p).slice(0, 32)}.narinfo`)).status).toBe(200);
    }
  });

  it('substitutes both closures through the balancer, trusting only the server key, with NARs redirected to S3', async () => {
    const serverKey = (await (await fetch(`${cacheUrl}/-/public-key`)).text()).trim();
    expect(serverKey).toMatch(/^127\.0\.0\.1-\d+-alice-1:/);
    const all = [...first.outPaths, ...second.outPaths];
    await deleteLocal(client, all);
    expect(await validPaths(client, all)).toEqual([]);
    const mark = s3.requests.length;
    const realised = await realiseFromSubstituter(client, all, { substituter: cacheUrl, trustedPublicKeys: [serverKey], requireSigs: true });
    expect(realised.code, realised.stderr).toBe(0);
    expect((await validPaths(client, all)).sort()).toEqual([...all].sort());

    // Every NAR came from the object store through a presigned URL, and what Nix sent there.
    const narGets = s3.requests.slice(mark).filter((r) => r.method === 'GET' && r.url.includes('/blobs/'));
    expect(narGets.length).toBeGreaterThanOrEqual(all.length);
    for (const r of narGets) {
      expect(r.url).toContain('X-Amz-Signature=');
      expect(r.status).toBe(200);
      expect(r.headers.authorization).toBeUndefined();
    }
    // What Nix really does: curl matches netrc entries by host name, not port, so it sent
    // the forge token along to the store on the same host; deploy/nginx.conf drops it
    // (docs/deployment.md, "Presigned downloads and netrc").
    const publicSide = readFileSync(nginx.accessLog, 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('GET /cache/blobs/') || line.startsWith('GET /forge/cache/blobs/'));
    expect(publicSide.length).toBe(narGets.length);
    for (const line of publicSide) expect(line.split(' ')[5]).toBe('authorization');
  });

  it('stores nothing on the servers’ disks but staging', () => {
    for (const p of processes) {
      const files = filesOf(p.dataDir).filter((f) => f !== 'forge.sock');
      // The killed process may have left the upload it was staging; nothing else.
      for (const f of files) expect(f, `${p.name}: ${f}`).toMatch(/^blobs\/tmp\/[0-9a-f]{32}\.tmp$/);
      if (running(p)) expect(files, p.name).toEqual([]);
    }
    expect(processes.filter(running)).toHaveLength(1);
  });
});
