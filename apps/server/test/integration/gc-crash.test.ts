/**
 * kill -9 in the middle of a garbage collection (docs/garbage-collection.md, "How it stays
 * safe"): the built server collects a chain of 150 expired paths (one deletion transaction
 * per path, referrers first) and is killed as soon as the first path is gone. Afterwards no
 * narinfo lacks a reference, no blob row lacks its file, and the next run (`forge admin
 * cleanup`, the server stopped) finishes the job and frees the disk.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { nixModule } from '@forge/module-nix';
import { makePath, type TestPath } from '../../../../packages/modules/nix/test/integration/support.js';

const run = promisify(execFile);
const serverDir = path.resolve(fileURLToPath(import.meta.url), '../../..');
const forgeBin = path.join(serverDir, 'bin/forge.js');
const mainJs = path.join(serverDir, 'dist/main.js');
if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: run \`npm run build\` first`);

const kinds = await testDatabaseKinds();
const CHAIN = 150;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe.each(kinds)('kill -9 during a collection on %s', (kind) => {
  let dataDir: string;
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess | undefined;
  let base: string;
  let auth: string;
  const chain: TestPath[] = [];

  let log = '';
  const start = async () => {
    server = spawn('node', [mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    let up = false;
    for (let i = 0; i < 300 && !up && server.exitCode === null; i++) {
      up = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (!up) await new Promise((r) => setTimeout(r, 200));
    }
    expect(up, log).toBe(true);
  };
  const forge = async (...args: string[]) => (await run('node', [forgeBin, ...args], { env: { ...env, LOG_LEVEL: 'warn' } })).stdout.trim();
  /** The database and blob directory as the crashed server left them. */
  const inspect = async () => {
    const database = await openDatabase(kind === 'postgres' ? db.options : { pgliteDir: path.join(dataDir, 'pgdata') }, { migrations: [nixModule().migrations ?? []] });
    try {
      const q = (sql: string) => database.dataSource.query(sql);
      const dangling = await q(`SELECT p.hash_part, r.ref_hash FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id
        WHERE NOT EXISTS (SELECT 1 FROM nix_store_path d WHERE d.owner_id = r.owner_id AND d.hash_part = r.ref_hash)`);
      const remaining = Number((await q(`SELECT count(*)::int AS n FROM nix_store_path`))[0].n);
      const rows: string[] = (await q(`SELECT sha256 FROM package_blob WHERE size >= 0`)).map((r: { sha256: string }) => r.sha256.trim());
      const blobDir = path.join(dataDir, 'blobs', 'blobs');
      const rowsWithoutFile = rows.filter((sha) => !existsSync(path.join(blobDir, sha.slice(0, 2), sha.slice(2, 4), sha)));
      const files = (await fs.readdir(blobDir, { recursive: true })).map(String).filter((f) => /[0-9a-f]{64}$/.test(f)).map((f) => path.basename(f));
      const filesWithoutRow = files.filter((f) => !rows.includes(f));
      return { dangling, remaining, rowsWithoutFile, filesWithoutRow };
    } finally {
      await database.close();
    }
  };

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-gc-crash-'));
    db = await createTestDatabase(kind);
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    env = { ...process.env, FORGE_DATA_DIR: dataDir, PORT: String(port), FORGE_LISTEN: '127.0.0.1', LOG_LEVEL: 'debug', FORGE_ACCESS_LOG: '0', FORGE_CLEANUP_INTERVAL: '0', FORGE_BLOB_GRACE: '1s' };
    if (kind === 'postgres') env.DATABASE_URL = db.options.url;
    else delete env.DATABASE_URL;
    await start();
    await forge('admin', 'user', 'create', '--username', 'alice', '--password', 'alice-password-1', '--email', 'alice@example.test');
    const token = await forge('admin', 'user', 'generate-access-token', '--username', 'alice', '--raw');
    auth = 'Basic ' + Buffer.from(`alice:${token}`).toString('base64');
  });
  afterAll(async () => {
    server?.kill('SIGKILL');
    await db?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  const cache = (rest: string, init: RequestInit = {}) => fetch(`${base}/api/packages/alice/nix/${rest}`, { ...init, headers: { authorization: auth, ...(init.headers ?? {}) } });

  it('leaves whole batches done and the rest intact; the next run finishes and frees the disk', async () => {
    for (let i = 0; i < CHAIN; i++) {
      const p = makePath({ name: `chain-${i}`, compression: 'none', references: i > 0 ? [chain[i - 1]!] : [] });
      chain.push(p);
      expect((await cache(`nar/${p.fileName}`, { method: 'PUT', body: p.file })).status).toBe(201);
      expect((await cache(`${p.hashPart}.narinfo`, { method: 'PUT', body: p.narinfo })).status).toBe(201);
    }
    const settings = await cache('-/settings', { method: 'PUT', body: JSON.stringify({ retention: '1s' }), headers: { 'content-type': 'application/json' } });
    expect(settings.status).toBe(200);
    await new Promise((r) => setTimeout(r, 2000));

    // Killed as soon as the server logs its first deleted batch (the top of the chain).
    const batchLogged = new Promise<void>((resolve) => {
      const onData = (d: Buffer) => {
        if (!String(d).includes('collection batch done')) return;
        server!.kill('SIGKILL');
        server!.stdout!.off('data', onData);
        resolve();
      };
      server!.stdout!.on('data', onData);
    });
    const collecting = cache('-/gc', { method: 'POST', body: JSON.stringify({}), headers: { 'content-type': 'application/json' } }).catch(() => null);
    await batchLogged;
    await new Promise((r) => server!.once('exit', r));
    expect(await collecting).toBeNull();

    const crashed = await inspect();
    expect(crashed.dangling).toEqual([]);
    expect(crashed.rowsWithoutFile).toEqual([]);
    expect(crashed.remaining).toBeGreaterThan(0);
    expect(crashed.remaining).toBeLessThan(CHAIN);

    // The next run, with the server stopped: the CLI opens the database itself.
    const out = await forge('admin', 'cleanup');
    expect(out).toMatch(new RegExp(`nix-gc: ${crashed.remaining} store paths? and \\d+ orphan uploads?`));
    await new Promise((r) => setTimeout(r, 1200));
    // Blobs released less than FORGE_BLOB_GRACE (1s) before the first run go in this one.
    expect(await forge('admin', 'cleanup')).toMatch(/blob-sweep: \d+ unreferenced blobs/);
    const after = await inspect();
    expect(after).toEqual({ dangling: [], remaining: 0, rowsWithoutFile: [], filesWithoutRow: [] });
  });
});
