/**
 * Backups and growth with the built server and the real Nix 2.8 client
 * (docs/operations.md, "Backups and moving to PostgreSQL"):
 * - on PGlite and on PostgreSQL: a generic package and a Nix closure are pushed, then
 *   `forge admin dump` archives the installation while the server runs; `forge admin
 *   restore` reads it into an empty data directory and database; a server started there
 *   serves the same bytes, accepts the same token and signs with the same key (Nix
 *   substitutes the closure trusting only the first server's key);
 * - `forge admin migrate-db --to postgres://…` moves a PGlite installation to PostgreSQL
 *   with the server stopped; restarted with DATABASE_URL it serves the closure pushed
 *   before (substituted by Nix) and takes new pushes.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { buildClosure, copyTo, createNixClient, deleteLocal, realiseFromSubstituter, requireNix, validPaths, type BuiltClosure, type NixClient } from '../support/nix/index.js';
import { freePort, REPO } from '../support/nginx/index.js';

const run = promisify(execFile);
const mainJs = path.join(REPO, 'apps/server/dist/main.js');
const forgeBin = path.join(REPO, 'apps/server/bin/forge.js');

const nix = requireNix();
const kinds = await testDatabaseKinds();
if (nix.available && !existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);

interface Installation {
  dataDir: string;
  env: NodeJS.ProcessEnv;
  port: number;
  child?: ChildProcess;
  log: string;
}

function installation(dir: string, name: string, port: number, databaseUrl?: string): Installation {
  const env: NodeJS.ProcessEnv = { ...process.env, FORGE_DATA_DIR: path.join(dir, name), PORT: String(port), FORGE_LISTEN: '127.0.0.1', LOG_LEVEL: 'info' };
  delete env.DATABASE_URL;
  delete env.FORGE_SECRET;
  if (databaseUrl) env.DATABASE_URL = databaseUrl;
  return { dataDir: env.FORGE_DATA_DIR!, env, port, log: '' };
}

async function start(inst: Installation): Promise<void> {
  inst.log = '';
  const child = spawn('node', [mainJs], { env: inst.env, stdio: ['ignore', 'pipe', 'pipe'] });
  inst.child = child;
  child.stdout!.on('data', (d) => (inst.log += d));
  child.stderr!.on('data', (d) => (inst.log += d));
  const deadline = Date.now() + 90_000;
  while (!inst.log.includes('"msg":"forge listening"')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the server did not start:\n${inst.log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(inst: Installation): Promise<void> {
  const child = inst.child;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function forge(inst: Installation, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run('node', [forgeBin, ...args], { env: inst.env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, out: (stdout + stderr).trim() };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: (e.stdout + e.stderr).trim() };
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.runIf(nix.available).each(kinds)('forge admin dump and restore on %s, with Nix 2.8', (kind) => {
  let dir: string;
  let client: NixClient;
  let closure: BuiltClosure;
  const dbs: TestDatabase[] = [];
  let a: Installation;
  let b: Installation;
  let token: string;
  let serverKey: string;
  const generic = randomBytes(300_000);

  const newDatabase = async () => {
    if (kind === 'pglite') return undefined;
    const db = await createTestDatabase('postgres');
    dbs.push(db);
    return db.options.url;
  };
  const cache = (inst: Installation) => `http://127.0.0.1:${inst.port}/api/packages/alice/nix`;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'forge-backup-'));
    a = installation(dir, 'a', await freePort(), await newDatabase());
    b = installation(dir, 'b', await freePort(), await newDatabase());
    await start(a);
    expect((await forge(a, 'admin', 'user', 'create', '--username', 'alice', '--password', 'alice-password', '--email', 'alice@example.test')).code).toBe(0);
    token = (await forge(a, 'admin', 'user', 'generate-access-token', '--username', 'alice', '--scopes', 'read:package,write:package', '--raw')).out;
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: token }] });
    closure = await buildClosure(client, [
      { name: 'backup-lib', size: 150_000, files: 3, content: 'text' },
      { name: 'backup-app', size: 80_000, content: 'binary', bin: true, references: ['backup-lib'] },
    ]);
  });

  afterAll(async () => {
    if (client && closure) await deleteLocal(client, [...closure.outPaths, ...closure.drvPaths]);
    for (const inst of [a, b]) if (inst) await stop(inst);
    for (const db of dbs) await db.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('takes a generic package and a Nix closure', async () => {
    const put = await fetch(`http://127.0.0.1:${a.port}/api/packages/alice/generic/tool/1.0/tool.bin`, {
      method: 'PUT',
      headers: { Authorization: `token ${token}` },
      body: generic,
    });
    expect(put.status).toBe(201);
    const pushed = await copyTo(client, cache(a), closure.roots, { compression: 'zstd' });
    expect(pushed.code, pushed.stderr).toBe(0);
    serverKey = (await (await fetch(`${cache(a)}/-/public-key`)).text()).trim();
  });

  it('dumps while the server runs, through its admin socket', async () => {
    const dumped = await forge(a, 'admin', 'dump', '-f', path.join(dir, 'dump.tar'));
    expect(dumped.code, dumped.out).toBe(0);
    expect(dumped.out).toMatch(/by the running server/);
    // The server kept serving (PGlite: it held the only connection for the snapshot's duration, then gave it back).
    expect((await fetch(`http://127.0.0.1:${a.port}/healthz`)).status).toBe(200);
    expect(statSync(path.join(dir, 'dump.tar')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'dump.tar')).size).toBeGreaterThan(generic.length);

    const listing = (await run('tar', ['-tvf', path.join(dir, 'dump.tar')])).stdout;
    expect(listing).toMatch(/ forge-dump\.json\n/);
    expect(listing).toMatch(/ secret\.key\n/);
    expect(listing).toContain(`blobs/${sha256(generic).slice(0, 2)}/${sha256(generic).slice(2, 4)}/${sha256(generic)}`);
    expect(listing).toMatch(/ db\/nix_store_path\.jsonl\.gz\n/);

    const noBlobs = await forge(a, 'admin', 'dump', '--no-blobs', '-f', path.join(dir, 'dump-no-blobs.tar'));
    expect(noBlobs.code, noBlobs.out).toBe(0);
    expect(statSync(path.join(dir, 'dump-no-blobs.tar')).size).toBeLessThan(generic.length);
  });

  it('restores into an empty data directory and database, and the restored server serves the same data', async () => {
    const restored = await forge(b, 'admin', 'restore', '-f', path.join(dir, 'dump.tar'));
    expect(restored.code, restored.out).toBe(0);
    expect(restored.out).toMatch(/Restored into .* (\d+) rows, (\d+) blobs/);
    await start(b);

    const got = await fetch(`http://127.0.0.1:${b.port}/api/packages/alice/generic/tool/1.0/tool.bin`, { headers: { Authorization: `token ${token}` } });
    expect(got.status).toBe(200);
    expect(sha256(new Uint8Array(await got.arrayBuffer()))).toBe(sha256(generic));
    // Same secret, so the same signing key opens: Nix trusts only the first server's key.
    expect((await (await fetch(`${cache(b)}/-/public-key`)).text()).trim().split(':')[1]).toBe(serverKey.split(':')[1]);
    await deleteLocal(client, closure.outPaths);
    expect(await validPaths(client, closure.outPaths)).toEqual([]);
    const realised = await realiseFromSubstituter(client, closure.roots, { substituter: cache(b), trustedPublicKeys: [serverKey], requireSigs: true });
    expect(realised.code, realised.stderr).toBe(0);
    expect((await validPaths(client, closure.outPaths)).sort()).toEqual([...closure.outPaths].sort());

    // New rows get new ids (the sequences moved on): a new package and a new token.
    const put = await fetch(`http://127.0.0.1:${b.port}/api/packages/alice/generic/tool/2.0/tool.bin`, { method: 'PUT', headers: { Authorization: `token ${token}` }, body: 'v2' });
    expect(put.status).toBe(201);
    expect((await forge(b, 'admin', 'user', 'generate-access-token', '--username', 'alice', '--token-name', 'second', '--raw')).code).toBe(0);
  });

  it('refuses to restore while a server runs, or into a database that is not empty', async () => {
    const whileRunning = await forge(b, 'admin', 'restore', '-f', path.join(dir, 'dump.tar'));
    expect(whileRunning).toMatchObject({ code: 1 });
    expect(whileRunning.out).toMatch(/a server is running on .*: stop it before restore/);
    await stop(b);
    const notEmpty = await forge(b, 'admin', 'restore', '-f', path.join(dir, 'dump.tar'));
    expect(notEmpty.code).toBe(1);
    expect(notEmpty.out).toMatch(/already holds a database|is not empty/);
    // The refused restore changed nothing: the server still starts and serves what it had.
    await start(b);
    expect((await fetch(`http://127.0.0.1:${b.port}/api/packages/alice/generic/tool/2.0/tool.bin`, { headers: { Authorization: `token ${token}` } })).status).toBe(200);
    await stop(b);
  });

  it('restores a dump made --no-blobs, and says which blobs the store lacks', async () => {
    const c = installation(dir, 'c', await freePort(), await newDatabase());
    const restored = await forge(c, 'admin', 'restore', '-f', path.join(dir, 'dump-no-blobs.tar'));
    expect(restored.code).toBe(1);
    const listed = (await run('tar', ['-tf', path.join(dir, 'dump.tar')])).stdout.split('\n').filter((n) => n.startsWith('blobs/')).length;
    expect(listed).toBeGreaterThanOrEqual(5); // the generic file, and two NARs and two listings
    expect(restored.out).toMatch(new RegExp(`^${listed} blobs the dump lists are not in the store \\(local\\)`, 'm'));
  });
});

describe.runIf(nix.available && kinds.includes('postgres'))('forge admin migrate-db from PGlite to PostgreSQL, with Nix 2.8', () => {
  let dir: string;
  let client: NixClient;
  let before: BuiltClosure;
  let after: BuiltClosure;
  let pg: TestDatabase;
  let inst: Installation;
  let serverKey: string;
  let cacheUrl: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'forge-migrate-db-'));
    pg = await createTestDatabase('postgres');
    inst = installation(dir, 'data', await freePort());
    cacheUrl = `http://127.0.0.1:${inst.port}/api/packages/alice/nix`;
    await start(inst);
    await forge(inst, 'admin', 'user', 'create', '--username', 'alice', '--password', 'alice-password', '--email', 'alice@example.test');
    const token = (await forge(inst, 'admin', 'user', 'generate-access-token', '--username', 'alice', '--raw')).out;
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: token }] });
    before = await buildClosure(client, [
      { name: 'migrate-lib', size: 120_000, files: 2, content: 'text' },
      { name: 'migrate-app', size: 60_000, content: 'mixed', bin: true, references: ['migrate-lib'] },
    ]);
    after = await buildClosure(client, [{ name: 'migrate-later', size: 50_000, content: 'text' }]);
  });

  afterAll(async () => {
    if (client) await deleteLocal(client, [...(before?.outPaths ?? []), ...(before?.drvPaths ?? []), ...(after?.outPaths ?? []), ...(after?.drvPaths ?? [])]);
    if (inst) await stop(inst);
    await pg?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('moves the database while the server is stopped; the server then runs on PostgreSQL with the same data', async () => {
    const pushed = await copyTo(client, cacheUrl, before.roots, { compression: 'xz' });
    expect(pushed.code, pushed.stderr).toBe(0);
    serverKey = (await (await fetch(`${cacheUrl}/-/public-key`)).text()).trim();

    const refused = await forge(inst, 'admin', 'migrate-db', '--to', pg.options.url!);
    expect(refused.code).toBe(1);
    expect(refused.out).toMatch(/a server is running .*: stop it before migrate-db/);
    await stop(inst);

    const blobsBefore = readFileSync(path.join(inst.dataDir, 'secret.key'), 'utf8');
    const moved = await forge(inst, 'admin', 'migrate-db', '--to', pg.options.url!);
    expect(moved.code, moved.out).toBe(0);
    expect(moved.out).toMatch(/Copied (\d+) rows in (\d+) tables from PGlite to PostgreSQL/);
    expect(existsSync(path.join(inst.dataDir, 'pgdata'))).toBe(false);
    expect(existsSync(path.join(inst.dataDir, 'pgdata.moved-to-postgres'))).toBe(true);
    expect(readFileSync(path.join(inst.dataDir, 'secret.key'), 'utf8')).toBe(blobsBefore);

    // Run again: the embedded database is gone (moved aside), so there is nothing to move.
    const again = await forge({ ...inst, env: { ...inst.env } }, 'admin', 'migrate-db', '--to', pg.options.url!);
    expect(again.code).toBe(1);

    inst.env.DATABASE_URL = pg.options.url;
    await start(inst);
    expect(inst.log).toMatch(/"database":"postgres"/);
    await deleteLocal(client, before.outPaths);
    const realised = await realiseFromSubstituter(client, before.roots, { substituter: cacheUrl, trustedPublicKeys: [serverKey], requireSigs: true });
    expect(realised.code, realised.stderr).toBe(0);
    expect((await validPaths(client, before.outPaths)).sort()).toEqual([...before.outPaths].sort());

    const later = await copyTo(client, cacheUrl, after.roots, { compression: 'zstd' });
    expect(later.code, later.stderr).toBe(0);
    await deleteLocal(client, after.outPaths);
    const pulled = await realiseFromSubstituter(client, after.roots, { substituter: cacheUrl, trustedPublicKeys: [serverKey], requireSigs: true });
    expect(pulled.code, pulled.stderr).toBe(0);
  });
});
