/**
 * The stock Nix 2.8 client (Debian's nix-bin) against a running server: push closures
 * with `nix copy`, substitute them back trusting only the server's key, query them, and
 * watch the failures a user would expect.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import {
  buildClosure,
  copyLog,
  copyTo,
  createNixClient,
  deleteLocal,
  log,
  pathInfo,
  realiseFromSubstituter,
  requireNix,
  storeCat,
  storeLs,
  validPaths,
  type BuiltClosure,
  type NixClient,
  type PathSpec,
} from '../support/nix/index.js';

const nix = requireNix();
// Without nix the suite still registers (as skipped) so the run says so instead of failing.
const kinds = nix.available ? await testDatabaseKinds() : ['pglite' as const];

const spec = (tag: string): PathSpec[] => [
  { name: `${tag}-lib`, size: 30_000, files: 3, content: 'text' },
  { name: `${tag}-tool`, size: 20_000, content: 'binary', bin: true, symlink: true, references: [`${tag}-lib`] },
  { name: `${tag}-app`, size: 120_000, files: 4, content: 'mixed', bin: true, references: [`${tag}-tool`, `${tag}-lib`], selfReference: true },
];

describe.runIf(nix.available).each(kinds)('Nix 2.8 against the cache on %s', (kind) => {
  let t: TestServer;
  let dir: string;
  let client: NixClient;
  let cacheUrl: string;
  let serverKey: string;
  const closures: Record<string, BuiltClosure> = {};
  const built: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const alice = await t.createUser('alice');
    const token = await t.token(alice, ['read:package', 'write:package']);
    dir = mkdtempSync(path.join(tmpdir(), 'forge-nix-e2e-'));
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: token }] });
    cacheUrl = `${t.url}/api/packages/alice/nix`;
    for (const compression of ['xz', 'zstd', 'none', 'bzip2', 'lzip'] as const) {
      closures[compression] = await buildClosure(client, spec(`e2e-${compression}`));
      built.push(...closures[compression].outPaths, ...closures[compression].drvPaths);
    }
  });

  afterAll(async () => {
    if (client) await deleteLocal(client, built);
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it.each(['xz', 'zstd', 'none', 'bzip2', 'lzip'] as const)('pushes a closure with compression=%s and write-nar-listing=1', async (compression) => {
    const closure = closures[compression]!;
    const pushed = await copyTo(client, cacheUrl, [closure.byName[`e2e-${compression}-app`]!.outPath], { compression, writeNarListing: true });
    expect(pushed.code, pushed.stderr).toBe(0);
    for (const p of closure.paths) {
      const res = await fetch(`${cacheUrl}/${path.basename(p.outPath).slice(0, 32)}.narinfo`);
      expect(res.status).toBe(200);
      const narinfo = await res.text();
      expect(narinfo).toContain(`StorePath: ${p.outPath}\n`);
      expect(narinfo).toContain(`Compression: ${compression}\n`);
    }
  });

  it('signs every narinfo with the server key, which it publishes', async () => {
    const res = await fetch(`${cacheUrl}/-/public-key`);
    expect(res.status).toBe(200);
    serverKey = (await res.text()).trim();
    expect(serverKey).toMatch(/^127\.0\.0\.1-\d+-alice-1:[A-Za-z0-9+/]{43}=$/);
    const info = await pathInfo(client, cacheUrl, closures.xz!.outPaths, { sigs: true });
    expect(info.code, info.stderr).toBe(0);
    for (const entry of info.info) expect(entry.signatures).toContainEqual(expect.stringMatching(/^127\.0\.0\.1-\d+-alice-1:/));
  });

  it('substitutes the deleted closure back, trusting only the server key', async () => {
    const closure = closures.zstd!;
    await deleteLocal(client, closure.outPaths);
    expect(await validPaths(client, closure.outPaths)).toEqual([]);
    const realised = await realiseFromSubstituter(client, closure.outPaths, { substituter: cacheUrl, trustedPublicKeys: [serverKey], requireSigs: true });
    expect(realised.code, realised.stderr).toBe(0);
    expect((await validPaths(client, closure.outPaths)).sort()).toEqual([...closure.outPaths].sort());
    const cat = await storeCat(client, undefined, `${closure.byName['e2e-zstd-tool']!.outPath}/bin/e2e-zstd-tool`);
    expect(cat.code).toBe(0);
  });

  it.each(['bzip2', 'lzip'] as const)('substitutes a closure pushed with compression=%s back', async (compression) => {
    const closure = closures[compression]!;
    await deleteLocal(client, closure.outPaths);
    const realised = await realiseFromSubstituter(client, closure.outPaths, { substituter: cacheUrl, trustedPublicKeys: [serverKey], requireSigs: true });
    expect(realised.code, realised.stderr).toBe(0);
    expect((await validPaths(client, closure.outPaths)).sort()).toEqual([...closure.outPaths].sort());
  });

  it('refuses to substitute when the server key is not trusted', async () => {
    const closure = closures.none!;
    await deleteLocal(client, closure.outPaths);
    const other = 'someone-else-1:' + Buffer.alloc(32, 7).toString('base64');
    const attempt = await realiseFromSubstituter(client, closure.outPaths, { substituter: cacheUrl, trustedPublicKeys: [other], requireSigs: true });
    expect(attempt.code).not.toBe(0);
    expect(attempt.stderr).toMatch(/is not signed by any of the keys in 'trusted-public-keys'/);
    const ok = await realiseFromSubstituter(client, closure.outPaths, { substituter: cacheUrl, trustedPublicKeys: [serverKey] });
    expect(ok.code, ok.stderr).toBe(0);
  });

  it('answers nix path-info --json -r, nix store ls and nix store cat from the cache', async () => {
    const app = closures.xz!.byName['e2e-xz-app']!;
    const info = await pathInfo(client, cacheUrl, [app.outPath], { recursive: true });
    expect(info.code, info.stderr).toBe(0);
    expect(info.info.map((i) => i.path).sort()).toEqual([...closures.xz!.outPaths].sort());
    const appInfo = info.info.find((i) => i.path === app.outPath)!;
    expect(appInfo.references).toContain(app.outPath);
    const ls = await storeLs(client, cacheUrl, `${closures.xz!.byName['e2e-xz-tool']!.outPath}/bin`);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toContain('e2e-xz-tool');
  });

  it('takes build logs with nix store copy-log and gives them back to nix log', async () => {
    const tool = closures.xz!.byName['e2e-xz-tool']!;
    const copied = await copyLog(client, cacheUrl, [tool.drvPath]);
    expect(copied.code, copied.stderr).toBe(0);
    const shown = await log(client, cacheUrl, tool.outPath);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout.length).toBeGreaterThan(0);
  });

  it('serves the .ls listing the server computed', async () => {
    const tool = closures.xz!.byName['e2e-xz-tool']!;
    const res = await fetch(`${cacheUrl}/${path.basename(tool.outPath).slice(0, 32)}.ls`);
    expect(res.status).toBe(200);
    const listing = (await res.json()) as { version: number; root: { type: string; entries: Record<string, unknown> } };
    expect(listing.version).toBe(1);
    expect(listing.root.type).toBe('directory');
    expect(Object.keys(listing.root.entries)).toContain('bin');
  });

  describe('failures a user would expect', () => {
    it('a wrong token cannot push', async () => {
      const closure = await buildClosure(client, [{ name: 'e2e-denied', size: 1000 }]);
      built.push(...closure.outPaths, ...closure.drvPaths);
      const wrong = createNixClient({ dir: path.join(dir, 'wrong'), netrc: [{ machine: '127.0.0.1', password: '0'.repeat(40) }] });
      const pushed = await copyTo(wrong, cacheUrl, closure.outPaths);
      expect(pushed.code).not.toBe(0);
      expect(pushed.stderr).toMatch(/401|does not appear to be a binary cache|Unauthorized/i);
    });

    it('a read-only token cannot push', async () => {
      const reader = createNixClient({
        dir: path.join(dir, 'reader'),
        netrc: [{ machine: '127.0.0.1', password: await t.token((await t.forge.owners.findUser('alice'))!, ['read:package']) }],
      });
      const closure = await buildClosure(client, [{ name: 'e2e-readonly', size: 1000 }]);
      built.push(...closure.outPaths, ...closure.drvPaths);
      const pushed = await copyTo(reader, cacheUrl, closure.outPaths);
      expect(pushed.code).not.toBe(0);
      expect(pushed.stderr).toMatch(/403/);
      expect((await fetch(`${cacheUrl}/${path.basename(closure.outPaths[0]!).slice(0, 32)}.narinfo`)).status).toBe(404);
    });

    it('an anonymous client cannot pull from a private cache', async () => {
      const settings = await fetch(`${cacheUrl}/-/settings`, {
        method: 'PUT',
        headers: { authorization: `token ${await t.token((await t.forge.owners.findUser('alice'))!)}`, 'content-type': 'application/json' },
        body: JSON.stringify({ visibility: 'private' }),
      });
      expect(settings.status).toBe(200);
      const anonymous = createNixClient({ dir: path.join(dir, 'anonymous') });
      const closure = closures.xz!;
      await deleteLocal(client, closure.outPaths);
      const attempt = await realiseFromSubstituter(anonymous, closure.outPaths, { substituter: cacheUrl, trustedPublicKeys: [serverKey] });
      expect(attempt.code).not.toBe(0);
      expect(await validPaths(anonymous, closure.outPaths)).toEqual([]);
      // The owner, with the token in netrc, still can.
      const owner = await realiseFromSubstituter(client, closure.outPaths, { substituter: cacheUrl, trustedPublicKeys: [serverKey] });
      expect(owner.code, owner.stderr).toBe(0);
    });
  });
});
