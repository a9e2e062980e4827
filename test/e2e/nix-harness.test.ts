/**
 * Self-tests of the Nix harness (test/support/nix) against a `file://` binary cache. The
 * server's end-to-end tests do the same against `http://`.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildClosure,
  copyFrom,
  copyLog,
  copyTo,
  createNixClient,
  deleteLocal,
  fileStoreUrl,
  generateKey,
  hashPath,
  log,
  pathInfo,
  realiseFromSubstituter,
  realisticClosureSpec,
  requireNix,
  storeCat,
  storeLs,
  summarizeSpec,
  validPaths,
  verifyLocal,
  addText,
  type BuiltClosure,
  type NixClient,
  type SigningKey,
} from '../support/nix/index.js';

const nix = requireNix();

const SPEC = [
  { name: 'harness-lib', size: 40_000, files: 3, content: 'text' as const },
  { name: 'harness-tool', size: 30_000, content: 'binary' as const, bin: true, symlink: true, references: ['harness-lib'] },
  { name: 'harness-app', size: 200_000, files: 5, content: 'mixed' as const, bin: true, references: ['harness-tool', 'harness-lib'], selfReference: true },
  { name: 'harness-data.txt', size: 5_000, singleFile: true, references: ['harness-lib'] },
];

describe.runIf(nix.available)('nix harness (real nix client against a file:// binary cache)', () => {
  let dir: string;
  let client: NixClient;
  let key: SigningKey;
  let closure: BuiltClosure;
  const built: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'nix-harness-'));
    client = createNixClient({ dir: path.join(dir, 'client') });
    key = await generateKey(client, 'harness-test-1');
    const started = Date.now();
    closure = await buildClosure(client, SPEC);
    console.log(`built ${closure.paths.length} paths in ${Date.now() - started} ms`);
    built.push(...closure.outPaths, ...closure.drvPaths);
  });

  afterAll(async () => {
    if (client) await deleteLocal(client, built);
    if (dir && !process.env.NIX_HARNESS_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('isolates the client: generated nix.conf, own cache and home, netrc with and without login', async () => {
    const conf = readFileSync(client.confFile, 'utf8');
    expect(conf).toMatch(/^sandbox = false$/m);
    expect(conf).toMatch(/^substituters =$/m);
    expect(conf).toMatch(/^trusted-public-keys =$/m);
    expect(conf).toMatch(/^narinfo-cache-negative-ttl = 0$/m);
    const shown = await client.run('nix', ['show-config'], { check: true });
    expect(shown.stdout).toMatch(/^substituters = $/m);
    expect(shown.stdout).toContain(`netrc-file = ${client.settings.netrcFile}`);
    expect(shown.stdout).toMatch(/^narinfo-cache-positive-ttl = 0$/m);
    expect(client.env.XDG_CACHE_HOME).toBe(path.join(dir, 'client', 'cache'));
    expect(client.env.HOME!.startsWith(dir)).toBe(true);

    client.setNetrc([{ machine: '127.0.0.1', password: 'tok1' }, { machine: 'localhost', login: 'alice', password: 'tok2' }]);
    expect(readFileSync(client.settings.netrcFile, 'utf8')).toBe('machine 127.0.0.1 password tok1\nmachine localhost login alice password tok2\n');
    client.setNetrc([]);

    client.configure({ substituters: ['http://127.0.0.1:9/x'], trustedPublicKeys: [key.publicKey], requireSigs: false });
    const reconfigured = await client.run('nix', ['show-config'], { check: true });
    expect(reconfigured.stdout).toContain('substituters = http://127.0.0.1:9/x');
    expect(reconfigured.stdout).toContain(`trusted-public-keys = ${key.publicKey}`);
    expect(reconfigured.stdout).toMatch(/^require-sigs = false$/m);
    client.configure({ substituters: [], trustedPublicKeys: [], requireSigs: true });
  });

  it('sends the netrc credentials over http:// and keeps the binary-cache sqlite per client', async () => {
    const seen: string[] = [];
    const server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${req.headers.authorization ?? '-'}`);
      if (req.url === '/cache/nix-cache-info') res.writeHead(200).end('StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 30\n');
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/cache`;
      const missing = '/nix/store/00000000000000000000000000000000-missing';
      const http = createNixClient({ dir: path.join(dir, 'http-client'), netrc: [{ machine: '127.0.0.1', password: 'tok1' }] });
      expect((await pathInfo(http, url, [missing], { check: true })).invalid).toEqual([missing]);
      expect(seen[0]).toBe(`GET /cache/nix-cache-info Basic ${Buffer.from(':tok1').toString('base64')}`);
      expect(existsSync(path.join(http.cacheHome, 'nix', 'binary-cache-v6.sqlite'))).toBe(true);

      seen.length = 0;
      http.setNetrc([{ machine: '127.0.0.1', login: 'alice', password: 'tok2' }]);
      await pathInfo(http, url, [missing], { check: true });
      // 2.8 never refetches nix-cache-info once cached …
      expect(seen.some((l) => l.includes('nix-cache-info'))).toBe(false);
      expect(seen[0]).toMatch(new RegExp(`^(HEAD|GET) /cache/0{32}\\.narinfo Basic ${Buffer.from('alice:tok2').toString('base64')}$`));
      // … unless the client's cache is cleared (or it is a different client).
      seen.length = 0;
      http.clearCache();
      await pathInfo(http, url, [missing], { check: true });
      expect(seen[0]).toMatch(/^GET \/cache\/nix-cache-info /);
    } finally {
      server.close();
    }
  });

  it('builds fresh salted paths with the requested references, in topological order', async () => {
    expect(closure.paths.map((p) => p.name)).toEqual(['harness-lib', 'harness-tool', 'harness-app', 'harness-data.txt']);
    expect(closure.roots.sort()).toEqual([closure.byName['harness-app']!.outPath, closure.byName['harness-data.txt']!.outPath].sort());
    const local = await pathInfo(client, undefined, closure.outPaths, { check: true });
    for (const p of closure.paths) {
      const info = local.info.find((i) => i.path === p.outPath)!;
      expect(info.references!.sort(), p.name).toEqual([...p.references].sort());
      expect(info.deriver).toBe(p.drvPath);
    }
    const lib = closure.byName['harness-lib']!.outPath;
    expect(readdirSync(path.join(lib, 'share/data/d0')).sort()).toEqual(['f0.txt', 'f1.txt', 'f2.txt']);
    const tool = closure.byName['harness-tool']!.outPath;
    expect(existsSync(path.join(tool, 'bin/harness-tool'))).toBe(true);
    expect(readFileSync(path.join(tool, 'nix-support/references'), 'utf8')).toBe(`${lib}\n`);
    expect(readFileSync(closure.byName['harness-data.txt']!.outPath, 'utf8')).toContain(lib);

    // Same spec again: new salt, new paths.
    const again = await buildClosure(client, SPEC.slice(0, 1));
    built.push(...again.outPaths, ...again.drvPaths);
    expect(again.outPaths[0]).not.toBe(lib);
  });

  for (const compression of ['xz', 'zstd', 'none'] as const) {
    it(`copies the closure to file:// with compression=${compression}, signed, with NAR listings`, async () => {
      const cache = path.join(dir, `cache-${compression}`);
      const r = await copyTo(client, fileStoreUrl(cache), closure.roots, { compression, writeNarListing: true, secretKeyFile: key.secretKeyFile });
      client.assertOk(r);
      expect(r.url).toBe(`file://${cache}?compression=${compression}&write-nar-listing=1&secret-key=${key.secretKeyFile}`);
      const suffix = { xz: '.nar.xz', zstd: '.nar.zst', none: '.nar' }[compression];
      for (const p of closure.paths) {
        const hash = path.basename(p.outPath).slice(0, 32);
        const narinfo = readFileSync(path.join(cache, `${hash}.narinfo`), 'utf8');
        expect(narinfo).toContain(`StorePath: ${p.outPath}\n`);
        expect(narinfo).toContain(`Compression: ${compression}\n`);
        expect(narinfo).toMatch(new RegExp(`^Sig: ${key.name}:`, 'm'));
        const url = /^URL: (.*)$/m.exec(narinfo)![1]!;
        expect(url.endsWith(suffix)).toBe(true);
        expect(existsSync(path.join(cache, url))).toBe(true);
        expect(existsSync(path.join(cache, `${hash}.ls`))).toBe(true);
      }
    });
  }

  it('reads the file:// store: path-info --json -r, store ls, store cat, copy-log and log', async () => {
    const store = fileStoreUrl(path.join(dir, 'cache-zstd'));
    const app = closure.byName['harness-app']!;
    const info = await pathInfo(client, store, [app.outPath], { recursive: true, sigs: true, check: true });
    expect(info.info.map((i) => i.path).sort()).toEqual(['harness-app', 'harness-tool', 'harness-lib'].map((n) => closure.byName[n]!.outPath).sort());
    for (const i of info.info) {
      expect(i.signatures).toContainEqual(expect.stringMatching(new RegExp(`^${key.name}:`)));
      expect(i.url).toMatch(/^nar\/[0-9a-z]{52}\.nar\.zst$/);
      expect(i.narHash).toBe(await hashPath(client, i.path));
    }
    const missing = await pathInfo(client, store, ['/nix/store/00000000000000000000000000000000-missing']);
    expect(missing.invalid).toEqual(['/nix/store/00000000000000000000000000000000-missing']);

    const ls = await storeLs(client, store, app.outPath, { recursive: true, json: true, check: true });
    expect(JSON.stringify(ls.listing)).toContain('"harness-app"');
    const cat = await storeCat(client, store, `${app.outPath}/nix-support/references`, { check: true });
    expect(cat.stdout).toContain(app.outPath);

    client.assertOk(await copyLog(client, store, [app.outPath]));
    expect(existsSync(path.join(dir, 'cache-zstd', 'log', path.basename(app.drvPath)))).toBe(true);
    const logged = await log(client, store, app.outPath, { check: true });
    expect(logged.stdout).toContain('built harness-app');
  });

  it('substitutes deleted paths back from file:// only with the signing key trusted', async () => {
    const store = fileStoreUrl(path.join(dir, 'cache-xz'));
    const deleted = await deleteLocal(client, [closure.byName['harness-lib']!.outPath]);
    client.assertOk(deleted);
    // Deleting the library took its referrers with it.
    expect(deleted.deleted.sort()).toEqual([...closure.outPaths].sort());
    expect(await validPaths(client, closure.outPaths)).toEqual([]);

    const other = await generateKey(client, 'someone-else-1');
    const untrusted = await realiseFromSubstituter(client, closure.roots, { substituter: store, trustedPublicKeys: [other.publicKey] });
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr).toContain("is not signed by any of the keys in 'trusted-public-keys'");
    expect(await validPaths(client, closure.roots)).toEqual([]);

    const trusted = await realiseFromSubstituter(client, closure.roots, { substituter: store, trustedPublicKeys: [key.publicKey] });
    client.assertOk(trusted);
    expect(trusted.realised.sort()).toEqual([...closure.roots].sort());
    expect(await validPaths(client, closure.outPaths)).toEqual(closure.outPaths);
    client.assertOk(await verifyLocal(client, closure.outPaths));
    client.assertOk(await verifyLocal(client, closure.outPaths, { checkSigs: true, options: { 'trusted-public-keys': [key.publicKey] } }));
  });

  it('copies from file:// with nix copy --from, checking signatures', async () => {
    const store = fileStoreUrl(path.join(dir, 'cache-none'));
    client.assertOk(await deleteLocal(client, closure.outPaths));
    const refused = await copyFrom(client, store, closure.roots);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('lacks a valid signature');
    client.assertOk(await copyFrom(client, store, closure.roots, { trustedPublicKeys: [key.publicKey] }));
    expect(await validPaths(client, closure.outPaths)).toEqual(closure.outPaths);
  });

  it('deletes paths kept alive by a result link, and adds single files', async () => {
    const file = await addText(client, 'harness-note.txt', 'hello from the harness');
    built.push(file);
    expect(file).toMatch(/^\/nix\/store\/[0-9a-z]{32}-harness-note\.txt$/);
    const link = path.join(dir, 'result');
    client.assertOk(await client.run('nix-store', ['--realise', '--add-root', link, '--indirect', file]));
    expect(existsSync(link)).toBe(true);
    const deleted = await deleteLocal(client, [file]);
    client.assertOk(deleted);
    expect(deleted.removedRoots).toEqual([link]);
    expect(deleted.deleted).toEqual([file]);
  });

  it('shows the CA pitfall: nix-store --add paths substitute without any trusted signature', async () => {
    const file = await addText(client, 'harness-ca.txt', 'content-addressed');
    built.push(file);
    const cache = path.join(dir, 'cache-unsigned');
    client.assertOk(await copyTo(client, fileStoreUrl(cache), [file]));
    const narinfo = readFileSync(path.join(cache, `${path.basename(file).slice(0, 32)}.narinfo`), 'utf8');
    expect(narinfo).toMatch(/^CA: fixed:r:sha256:/m);
    expect(narinfo).not.toMatch(/^Sig:/m);
    client.assertOk(await deleteLocal(client, [file]));
    const r = await realiseFromSubstituter(client, [file], { substituter: fileStoreUrl(cache), trustedPublicKeys: [] });
    client.assertOk(r);
    expect(r.realised).toEqual([file]);
  });

  it('explains a failure with the tail of the client log', async () => {
    const failure = client.run('nix-store', ['--realise', '/nix/store/00000000000000000000000000000000-x'], { check: true });
    await expect(failure).rejects.toThrow(/last lines of .*nix-harness\.log[\s\S]*=== exit 1/);
  });

  it('generates deterministic realistic specs and builds a small one', async () => {
    const a = realisticClosureSpec({ paths: 60, totalBytes: 8 * 1024 * 1024, seed: 7 });
    const b = realisticClosureSpec({ paths: 60, totalBytes: 8 * 1024 * 1024, seed: 7 });
    expect(a).toEqual(b);
    expect(realisticClosureSpec({ paths: 60, totalBytes: 8 * 1024 * 1024, seed: 8 })).not.toEqual(a);
    const s = summarizeSpec(a);
    expect(s.paths).toBe(60);
    expect(s.totalBytes).toBe(8 * 1024 * 1024);
    expect(s.median * 4).toBeLessThan(s.totalBytes / s.paths);
    const seen = new Set<string>();
    for (const p of a.paths) {
      for (const r of p.references ?? []) expect(seen.has(r), `${p.name} -> ${r}`).toBe(true);
      seen.add(p.name);
    }

    const started = Date.now();
    const small = await buildClosure(client, a);
    built.push(...small.outPaths, ...small.drvPaths);
    console.log(`built realistic spec (60 paths, 8 MiB) in ${Date.now() - started} ms`);
    const closureInfo = await pathInfo(client, undefined, [small.byName[a.root]!.outPath], { recursive: true, check: true });
    expect(closureInfo.info).toHaveLength(60);
  });
});
