/**
 * `FORGE_WORKERS=N` (node:cluster) with the built server, as `npm start` runs it: workers
 * share the port and stay coherent through change notices; PGlite is refused; SIGTERM to
 * the primary stops every worker; a worker that dies is replaced; a start-up error stops
 * everything with one line. Also the one-line start-up errors of a single process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';

const serverDir = path.resolve(fileURLToPath(import.meta.url), '../../..');
const mainJs = path.join(serverDir, 'dist/main.js');
const forgeBin = path.join(serverDir, 'bin/forge.js');
if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: these tests run the built server; run \`npm run build\` first`);

const kinds = await testDatabaseKinds();

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs the server to its exit; for start-up failures. */
function runToExit(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn('node', [mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.on('data', (d) => (stdout += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

/** One request on a fresh connection (cluster hands each connection to the next worker). */
function request(port: number, pathname: string, options: { method?: string; auth?: string } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path: pathname, method: options.method ?? 'GET', agent: false, headers: options.auth ? { authorization: options.auth } : {} },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

const basic = (user: string, password: string) => 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
const childPids = (pid: number) =>
  // (ps exits 1 when it lists nothing.)
  execFileSync('sh', ['-c', `ps -o pid= --ppid ${pid} || true`], { encoding: 'utf8' })
    .split('\n')
    .map((s) => Number(s.trim()))
    .filter(Boolean);
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('start-up errors are one line on stderr', () => {
  let dataDir: string;
  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-startup-'));
  });
  afterAll(async () => {
    await fs.rm(dataDir, { recursive: true, force: true });
  });
  const base = () => ({ ...process.env, FORGE_DATA_DIR: dataDir, PORT: '0', FORGE_LISTEN: '127.0.0.1', LOG_LEVEL: 'warn', DATABASE_URL: '' });

  it('FORGE_WORKERS on PGlite is refused', async () => {
    const result = await runToExit({ ...base(), FORGE_WORKERS: '2' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('forge: cannot start: FORGE_WORKERS=2 needs PostgreSQL (DATABASE_URL): the embedded PGlite database belongs to one process\n');
  });

  it('an unreachable S3 endpoint', async () => {
    const port = await freePort();
    const result = await runToExit({
      ...base(),
      FORGE_STORAGE: 's3',
      FORGE_S3_ENDPOINT: `http://127.0.0.1:${port}`,
      FORGE_S3_BUCKET: 'forge',
      FORGE_S3_ACCESS_KEY_ID: 'id',
      FORGE_S3_SECRET_ACCESS_KEY: 'secret',
    });
    expect(result.code).toBe(1);
    // (On Node 20 the AWS SDK also prints a warning that it will require Node 22 in 2027.)
    const ours = result.stderr.split('\n').filter((line) => line.startsWith('forge:'));
    expect(ours).toEqual([`forge: cannot start: cannot use S3 bucket "forge" at http://127.0.0.1:${port}: the endpoint is unreachable (ECONNREFUSED)`]);
  });

  it('a setting that contradicts another', async () => {
    const result = await runToExit({ ...base(), FORGE_SERVE_DIRECT: 'redirect' });
    expect(result.stderr).toBe('forge: cannot start: FORGE_SERVE_DIRECT=redirect needs FORGE_STORAGE=s3 (presigned URLs)\n');
    expect(result.code).toBe(1);
  });
});

describe.each(kinds.filter((k) => k === 'postgres'))('FORGE_WORKERS=2 on %s', () => {
  let db: TestDatabase;
  let dataDir: string;
  let port: number;
  let env: NodeJS.ProcessEnv;
  let primary: ChildProcess;
  let log = '';

  beforeAll(async () => {
    db = await createTestDatabase('postgres');
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-workers-'));
    port = await freePort();
    env = { ...process.env, FORGE_DATA_DIR: dataDir, PORT: String(port), FORGE_LISTEN: '127.0.0.1', LOG_LEVEL: 'info', DATABASE_URL: db.options.url, FORGE_WORKERS: '2', FORGE_ACCESS_LOG_PROBES: '1' };
    primary = spawn('node', [mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    primary.stdout!.on('data', (d) => (log += d));
    primary.stderr!.on('data', (d) => (log += d));
    await until(() => log.includes('forge workers listening'), 'the workers to listen', 90_000);
  });
  afterAll(async () => {
    if (primary.exitCode === null) primary.kill('SIGKILL');
    for (const pid of childPids(primary.pid!)) process.kill(pid, 'SIGKILL');
    await db?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const workersThatServed = (since: number, url: string) =>
    new Set(
      log
        .slice(since)
        .split('\n')
        .filter((line) => line.includes(`"url":"${url}"`))
        .map((line) => (JSON.parse(line) as { worker: number }).worker),
    );

  it('runs two workers on one port, both serving, and the admin socket through the first', async () => {
    expect(childPids(primary.pid!)).toHaveLength(2);
    const mark = log.length;
    for (let i = 0; i < 6; i++) expect((await request(port, '/healthz')).status).toBe(200);
    await until(() => workersThatServed(mark, '/healthz').size === 2, 'both workers in the access log', 5000);
    execFileSync('node', [forgeBin, 'admin', 'user', 'create', '--username', 'alice', '--password', 'alice-password', '--email', 'a@example.test'], { env });
    expect((await request(port, '/api/v1/user', { auth: basic('alice', 'alice-password') })).status).toBe(200);
  });

  it('keeps memos coherent: a token revoked through one worker fails on both at once', async () => {
    const created = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port, path: '/api/v1/users/alice/tokens', method: 'POST', agent: false, headers: { authorization: basic('alice', 'alice-password'), 'content-type': 'application/json' } },
        (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ name: 'ci', scopes: ['read:user'] }));
    });
    expect(created.status).toBe(201);
    const token = (JSON.parse(created.body) as { sha1: string }).sha1;
    // Warm both workers' token memos.
    const mark = log.length;
    for (let i = 0; i < 4; i++) expect((await request(port, '/api/v1/user', { auth: `token ${token}` })).status).toBe(200);
    await until(() => workersThatServed(mark, '/api/v1/user').size === 2, 'both workers to have served the token', 5000);

    expect((await request(port, '/api/v1/users/alice/tokens/ci', { method: 'DELETE', auth: basic('alice', 'alice-password') })).status).toBe(204);
    // LISTEN/NOTIFY delivers within milliseconds; the memo would keep it for 60 s.
    await until(async () => (await request(port, '/api/v1/user', { auth: `token ${token}` })).status === 401, 'the revocation', 2000);
    for (let i = 0; i < 4; i++) expect((await request(port, '/api/v1/user', { auth: `token ${token}` })).status).toBe(401);
  });

  it('replaces a worker that dies', async () => {
    const [victim] = childPids(primary.pid!);
    process.kill(victim!, 'SIGKILL');
    await until(() => {
      const pids = childPids(primary.pid!);
      return pids.length === 2 && !pids.includes(victim!);
    }, 'a replacement worker');
    await until(() => (log.match(/"msg":"forge listening"/g) ?? []).length >= 3, 'the replacement to listen');
    for (let i = 0; i < 4; i++) expect((await request(port, '/healthz')).status).toBe(200);
  });

  it('SIGTERM to the primary stops every worker, then the primary', async () => {
    const workers = childPids(primary.pid!);
    expect(workers).toHaveLength(2);
    const exited = new Promise<number | null>((resolve) => primary.once('exit', (code) => resolve(code)));
    primary.kill('SIGTERM');
    expect(await exited).toBe(0);
    for (const pid of workers) expect(alive(pid)).toBe(false);
    await expect(request(port, '/healthz')).rejects.toThrow(/ECONNREFUSED/);
  });

  it('a start-up error in the workers stops them all with exit code 1 instead of restarting them', async () => {
    const closed = await freePort();
    const result = await runToExit({
      ...env,
      PORT: String(await freePort()),
      FORGE_STORAGE: 's3',
      FORGE_S3_ENDPOINT: `http://127.0.0.1:${closed}`,
      FORGE_S3_BUCKET: 'forge',
      FORGE_S3_ACCESS_KEY_ID: 'id',
      FORGE_S3_SECRET_ACCESS_KEY: 'secret',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/forge: cannot start: cannot use S3 bucket "forge" .* unreachable/);
    expect(result.stdout).toMatch(/a forge worker failed to start; stopping/);
  });
});
