/**
 * FORGE_SERVE_DIRECT=accel end to end: the stock Nix 2.8 client pushes and substitutes
 * through Debian's nginx running deploy/nginx-accel.conf; NARs, listings and logs leave
 * through nginx (X-Accel-Redirect → sendfile), with Range and HEAD working through it.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { buildClosure, copyTo, createNixClient, deleteLocal, realiseFromSubstituter, requireNix, validPaths, type BuiltClosure, type NixClient } from '../support/nix/index.js';
import { freePort, renderDeployConfig, requireNginx, startNginx, type RunningNginx } from '../support/nginx/index.js';

const nix = requireNix();
const nginxThere = nix.available && requireNginx();
const [kind] = nginxThere ? await testDatabaseKinds() : ['pglite' as const];

describe.runIf(nix.available && nginxThere)('Nix 2.8 through nginx with FORGE_SERVE_DIRECT=accel', () => {
  let t: TestServer;
  let nginx: RunningNginx;
  let dir: string;
  let client: NixClient;
  let closure: BuiltClosure;
  let cacheUrl: string;
  let token: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'forge-accel-e2e-'));
    t = await startTestServer({ db: kind!, config: { serveDirect: { mode: 'accel', expirySeconds: 300, accelLocation: '/_forge_blobs/' } } });
    token = await t.token(await t.createUser('alice'));
    const port = await freePort();
    nginx = await startNginx({
      dir: path.join(dir, 'nginx'),
      waitForPort: port,
      httpBlocks: renderDeployConfig('deploy/nginx-accel.conf', [
        ['server 127.0.0.1:3000;', `server 127.0.0.1:${t.port};`],
        ['listen 80;', `listen 127.0.0.1:${port};`],
        ['/var/lib/forge/blobs/', `${t.forge.config.storage.path}/`],
      ]),
    });
    cacheUrl = `http://127.0.0.1:${port}/api/packages/alice/nix`;
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: token }] });
    closure = await buildClosure(client, [
      { name: 'accel-lib', size: 400_000, files: 3, content: 'binary' },
      { name: 'accel-app', size: 100_000, content: 'text', bin: true, references: ['accel-lib'] },
    ]);
  });
  afterAll(async () => {
    if (client && closure) await deleteLocal(client, [...closure.outPaths, ...closure.drvPaths]);
    await nginx?.stop();
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const narOf = async (outPath: string) => {
    const res = await fetch(`${cacheUrl}/${path.basename(outPath).slice(0, 32)}.narinfo`);
    const narinfo = await res.text();
    return /^URL: (.*)$/m.exec(narinfo)![1]!;
  };

  it('pushes a closure through nginx and substitutes it back, trusting only the server key', async () => {
    const pushed = await copyTo(client, cacheUrl, closure.roots, { compression: 'zstd' });
    expect(pushed.code, pushed.stderr).toBe(0);
    const serverKey = (await (await fetch(`${cacheUrl}/-/public-key`)).text()).trim();
    await deleteLocal(client, closure.outPaths);
    expect(await validPaths(client, closure.outPaths)).toEqual([]);
    const realised = await realiseFromSubstituter(client, closure.outPaths, { substituter: cacheUrl, trustedPublicKeys: [serverKey], requireSigs: true });
    expect(realised.code, realised.stderr).toBe(0);
    expect((await validPaths(client, closure.outPaths)).sort()).toEqual([...closure.outPaths].sort());
    // The NARs were sent by nginx: the server's answers were empty X-Accel-Redirects.
    const log = readFileSync(nginx.accessLog, 'utf8');
    const narGets = log.split('\n').filter((line) => /^GET \/api\/packages\/alice\/nix\/nar\/\S+ 200 /.test(line));
    expect(narGets.length).toBeGreaterThanOrEqual(closure.paths.length);
    for (const line of narGets) expect(Number(line.split(' ').at(-1))).toBeGreaterThan(0);
  });

  it('serves Range, HEAD and the usual headers through nginx', async () => {
    const url = `${cacheUrl}/${await narOf(closure.byName['accel-lib']!.outPath)}`;
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    const bytes = Buffer.from(await whole.arrayBuffer());
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(whole.headers.get('server')).toMatch(/^nginx/);
    expect(whole.headers.get('x-accel-redirect')).toBeNull();
    expect(whole.headers.get('etag')).toBe(`"${sha}"`);
    expect(whole.headers.get('content-type')).toBe('application/x-nix-nar');
    expect(whole.headers.get('cache-control')).toMatch(/max-age=31536000/);
    expect(whole.headers.get('content-length')).toBe(String(bytes.length));
    expect(whole.headers.get('content-encoding')).toBeNull();

    const part = await fetch(url, { headers: { range: 'bytes=100-' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 100-${bytes.length - 1}/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(100));
    const ifRange = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': `"${sha}"` } });
    expect(ifRange.status).toBe(206);
    expect((await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"stale"' } })).status).toBe(200);
    const unsatisfiable = await fetch(url, { headers: { range: `bytes=${bytes.length + 5}-` } });
    expect(unsatisfiable.status).toBe(416);

    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect(head.headers.get('etag')).toBe(`"${sha}"`);
    expect((await fetch(url, { headers: { 'if-none-match': `"${sha}"` } })).status).toBe(304);
  });

  it('keeps the internal location internal', async () => {
    const url = `${cacheUrl}/${await narOf(closure.byName['accel-app']!.outPath)}`;
    const sha = createHash('sha256').update(Buffer.from(await (await fetch(url)).arrayBuffer())).digest('hex');
    const direct = await fetch(`${new URL(cacheUrl).origin}/_forge_blobs/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`);
    // nginx answers internal locations requested by a client with 404; the server, asked
    // for that path, has no such route either.
    expect(direct.status).toBe(404);
  });
});
