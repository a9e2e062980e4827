import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { makePath } from '../../../../packages/modules/nix/test/integration/support.js';

const run = promisify(execFile);
const serverDir = path.resolve(fileURLToPath(import.meta.url), '../../..');
const forgeBin = path.join(serverDir, 'bin/forge.js');
const mainJs = path.join(serverDir, 'dist/main.js');

if (!existsSync(mainJs)) throw new Error(`${mainJs} is missing: the CLI tests run the built server; run \`npm run build\` first`);

const kinds = await testDatabaseKinds();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe.each(kinds)('forge CLI and npm start on %s', (kind) => {
  let dataDir: string;
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess | undefined;
  let port: number;

  const forge = async (...args: string[]) => {
    try {
      const { stdout } = await run('node', [forgeBin, ...args], { env });
      return { code: 0, out: stdout.trim() };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, out: (e.stdout + e.stderr).trim() };
    }
  };

  beforeAll(async () => {
    dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-cli-'));
    db = await createTestDatabase(kind);
    port = await freePort();
    env = { ...process.env, FORGE_DATA_DIR: dataDir, PORT: String(port), FORGE_LISTEN: '127.0.0.1', LOG_LEVEL: 'warn', FORGE_UPLOAD_GRACE: '8s' };
    if (kind === 'postgres') env.DATABASE_URL = db.options.url;
    else delete env.DATABASE_URL;
  });
  afterAll(async () => {
    server?.kill('SIGTERM');
    await db?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  });

  it('creates the first admin and a token with the server stopped (direct database access)', async () => {
    const created = await forge('admin', 'user', 'create', '--username', 'root', '--password', 'rootpassword', '--email', 'root@example.test', '--admin');
    expect(created).toEqual({ code: 0, out: "New user 'root' has been successfully created!" });
    const list = await forge('admin', 'user', 'list');
    expect(list.out).toMatch(/\troot\troot@example\.test\ttrue\tpublic/);
  });

  it('serves with `node dist/main.js`, and the CLI works beside it through the admin socket', async () => {
    server = spawn('node', [mainJs], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    server.stdout!.on('data', (d) => (log += d));
    server.stderr!.on('data', (d) => (log += d));
    for (let i = 0; i < 100 && !(await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false)); i++) {
      await new Promise((r) => setTimeout(r, 200));
    }
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status, log).toBe(200);

    expect((await forge('admin', 'user', 'create', '--username', 'alice', '--password', 'alicepassword', '--email', 'alice@example.test')).code).toBe(0);
    const token = await forge('admin', 'user', 'generate-access-token', '--username', 'alice', '--token-name', 'ci', '--scopes', 'read:package,write:package', '--raw');
    expect(token.code).toBe(0);
    expect(token.out).toMatch(/^[0-9a-f]{40}$/);

    const auth = 'Basic ' + Buffer.from(`alice:${token.out}`).toString('base64');
    const url = `http://127.0.0.1:${port}/api/packages/alice/generic/x/1.0/f`;
    expect((await fetch(url, { method: 'PUT', body: 'the same bytes', headers: { authorization: auth } })).status).toBe(201);
    expect(await (await fetch(url)).text()).toBe('the same bytes');

    const verbose = await forge('admin', 'user', 'generate-access-token', '--username', 'alice', '--token-name', 'second');
    expect(verbose.out).toMatch(/^Access token was successfully created: [0-9a-f]{40}$/);

    // A quota through the socket applies to the running server at once.
    const quota = await forge('admin', 'owner', 'set-quota', '--name', 'alice', '--bytes', '20');
    expect(quota).toEqual({ code: 0, out: 'alice: quota 20 bytes (20 B); using 14 bytes (14 B)' });
    const refused = await fetch(`http://127.0.0.1:${port}/api/packages/alice/generic/x/1.1/g`, { method: 'PUT', body: 'seven more bytes', headers: { authorization: auth } });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toMatch(/^storage quota exceeded: alice would use/);
    expect((await forge('admin', 'owner', 'set-quota', '--name', 'alice', '--bytes', '1KiB')).out).toMatch(/quota 1024 bytes/);
    expect((await fetch(`http://127.0.0.1:${port}/api/packages/alice/generic/x/1.1/g`, { method: 'PUT', body: 'seven more bytes', headers: { authorization: auth } })).status).toBe(201);
    expect((await forge('admin', 'owner', 'set-quota', '--name', 'alice', '--bytes', 'unlimited')).out).toBe('alice: quota unlimited; using 30 bytes (30 B)');
    expect((await forge('admin', 'owner', 'show-quota', '--name', 'alice')).out).toBe('alice: quota unlimited; using 30 bytes (30 B)');
    const bad = await forge('admin', 'owner', 'set-quota', '--name', 'alice', '--bytes', 'lots');
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/--bytes must be a number of bytes/);
  });

  it('creates organisations and members, and reports mistakes with a non-zero exit', async () => {
    expect((await forge('admin', 'org', 'create', '--name', 'acme', '--owner', 'alice', '--visibility', 'private')).code).toBe(0);
    expect((await forge('admin', 'org', 'add-member', '--org', 'acme', '--username', 'root', '--role', 'write')).out).toMatch(/role 'write'/);
    const dup = await forge('admin', 'user', 'create', '--username', 'ALICE', '--password', 'whatever-else-1', '--email', 'x@example.test');
    expect(dup.code).not.toBe(0);
    expect(dup.out).toMatch(/already taken/);
    const common = await forge('admin', 'user', 'create', '--username', 'carl', '--password', 'password', '--email', 'carl@example.test');
    expect(common.code).not.toBe(0);
    expect(common.out).toMatch(/one of the most common passwords/);
    const change = await forge('admin', 'user', 'change-password', '--username', 'alice', '--password', '12345678');
    expect(change.code).not.toBe(0);
    expect(change.out).toMatch(/one of the most common passwords/);
    const badScope = await forge('admin', 'user', 'generate-access-token', '--username', 'alice', '--scopes', 'root:everything');
    expect(badScope.code).not.toBe(0);
    expect(badScope.out).toMatch(/unknown scope/);
  });

  it('forge admin doctor, through the socket, names a file whose blob is gone (exit 2) and whose download is a 404', async () => {
    const healthy = await forge('admin', 'doctor');
    expect(healthy.code, healthy.out).toBe(0);
    expect(healthy.out).toMatch(/^Checked \d+ blobs \(presence and size.*\): all good\.$/);

    const sha256 = createHash('sha256').update('the same bytes').digest('hex');
    await fs.rm(path.join(dataDir, 'blobs', 'blobs', sha256.slice(0, 2), sha256.slice(2, 4), sha256));
    expect((await fetch(`http://127.0.0.1:${port}/api/packages/alice/generic/x/1.0/f`)).status).toBe(404);

    const found = await forge('admin', 'doctor', '--hashes');
    expect(found.code).toBe(2);
    expect(found.out).toMatch(/presence, size and sha256\): 1 damaged\./);
    expect(found.out).toContain(`missing\t${sha256}\talice\tgeneric\tx@1.0\tf`);
    // Progress, on stderr (a bar on a terminal; lines here).
    expect(found.out).toMatch(/^\d+\/\d+$/m);
  });

  it('forge admin cleanup, through the socket: a dry run lists an orphan NAR upload, then a run removes it', async () => {
    const token = await forge('admin', 'user', 'generate-access-token', '--username', 'alice', '--token-name', 'nix', '--scopes', 'write:package', '--raw');
    const auth = 'Basic ' + Buffer.from(`alice:${token.out}`).toString('base64');
    const orphan = makePath({ name: 'orphan-1.0', compression: 'none' });
    const narUrl = `http://127.0.0.1:${port}/api/packages/alice/nix/${orphan.url}`;
    const uploaded = Date.now();
    expect((await fetch(narUrl, { method: 'PUT', body: orphan.file, headers: { authorization: auth } })).status).toBe(201);
    // Within FORGE_UPLOAD_GRACE (8s here) the upload waits for its narinfo (checked only
    // when the command finished inside the grace: a loaded machine can take longer).
    const early = await forge('admin', 'cleanup', '--owner', 'alice', '--dry-run');
    expect(early.code, early.out).toBe(0);
    if (Date.now() - uploaded < 7000) expect(early.out).not.toContain(orphan.fileName);
    await new Promise((r) => setTimeout(r, Math.max(0, uploaded + 8500 - Date.now())));

    const dry = await forge('admin', 'cleanup', '--owner', 'alice', '--dry-run');
    expect(dry.code, dry.out).toBe(0);
    expect(dry.out).toContain(`would remove alice: nar/${orphan.fileName} (orphan-upload, ${orphan.file.length} bytes)`);
    expect(dry.out).toMatch(/nix-gc: 0 store paths and 2 orphan uploads \(\d+ bytes\) from 1 cache would go/);
    expect(dry.out).toMatch(/Would free \d+ bytes \(dry run: nothing was removed\)\.$/);
    expect(dry.out).not.toContain('blob-sweep');
    expect((await fetch(narUrl, { method: 'HEAD', headers: { authorization: auth } })).status).toBe(200);

    const wet = await forge('admin', 'cleanup');
    expect(wet.code, wet.out).toBe(0);
    expect(wet.out).toContain(`removed alice: nar/${orphan.fileName} (orphan-upload`);
    expect(wet.out).toMatch(/^blob-sweep: /m);
    expect(wet.out).toMatch(/^staging-sweep: /m);
    expect((await fetch(narUrl, { method: 'HEAD', headers: { authorization: auth } })).status).toBe(404);
    const unknown = await forge('admin', 'cleanup', '--owner', 'nobody');
    expect(unknown.code).not.toBe(0);
    expect(unknown.out).toMatch(/owner "nobody" does not exist/);
  });
});
