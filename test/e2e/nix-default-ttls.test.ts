/**
 * Nix 2.8 with its DEFAULT narinfo cache TTLs (30 days positive, 1 hour negative), as users
 * run it; every other suite sets them to 0. Nix keeps the narinfo it uploaded, unsigned by
 * the server, in its local cache (NixOS/nix#16175): the machine that pushed refuses to
 * substitute its own pushes while another machine accepts them. The documented recipe
 * (docs/nix-cache.md §3: sign pushes with a client key the machine trusts, registered with
 * the cache as a trusted uploader key) makes the pusher substitute its own pushes too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { buildClosure, copyTo, createNixClient, deleteLocal, generateKey, realiseFromSubstituter, requireNix, validPaths, type NixClient } from '../support/nix/index.js';

const nix = requireNix();
const [kind] = nix.available ? await testDatabaseKinds() : ['pglite' as const];

describe.runIf(nix.available)('Nix 2.8 with its default narinfo cache TTLs', () => {
  let t: TestServer;
  let dir: string;
  let token: string;
  let cacheUrl: string;
  let serverKey: string;
  const built: string[] = [];

  const machine = (name: string): NixClient =>
    createNixClient({ dir: path.join(dir, name), narinfoCacheTtls: 'default', netrc: [{ machine: '127.0.0.1', password: token }] });

  beforeAll(async () => {
    t = await startTestServer({ db: kind! });
    token = await t.token(await t.createUser('alice'));
    dir = mkdtempSync(path.join(tmpdir(), 'forge-default-ttls-'));
    cacheUrl = `${t.url}/api/packages/alice/nix`;
    const res = await fetch(`${cacheUrl}/-/settings`, { method: 'PUT', headers: { authorization: `token ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(200);
    serverKey = (await (await fetch(`${cacheUrl}/-/public-key`, { headers: { authorization: `token ${token}` } })).text()).trim();
  });

  afterAll(async () => {
    const cleaner = createNixClient({ dir: path.join(dir ?? tmpdir(), 'cleaner') });
    await deleteLocal(cleaner, built);
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the harness leaves the TTLs out of nix.conf when asked', async () => {
    const m = machine('conf-check');
    const shown = await m.run('nix', ['show-config'], { check: true });
    expect(shown.stdout).toMatch(/^narinfo-cache-positive-ttl = 2592000$/m);
    expect(shown.stdout).toMatch(/^narinfo-cache-negative-ttl = 3600$/m);
  });

  it('an unsigned push: another machine substitutes it, the pusher does not (what does not work)', async () => {
    const pusher = machine('unsigned-pusher');
    const closure = await buildClosure(pusher, [{ name: 'ttl-lib', size: 8_000 }, { name: 'ttl-app', size: 8_000, references: ['ttl-lib'] }]);
    built.push(...closure.outPaths, ...closure.drvPaths);
    const app = closure.byName['ttl-app']!.outPath;
    pusher.assertOk(await copyTo(pusher, cacheUrl, [app]));

    const other = machine('unsigned-other');
    await deleteLocal(other, closure.outPaths);
    other.assertOk(await realiseFromSubstituter(other, [app], { substituter: cacheUrl, trustedPublicKeys: [serverKey] }));
    expect(await validPaths(other, closure.outPaths)).toEqual(closure.outPaths);

    // Back on the pusher: its narinfo cache still holds what it uploaded, with no server signature.
    await deleteLocal(pusher, closure.outPaths);
    const again = await realiseFromSubstituter(pusher, [app], { substituter: cacheUrl, trustedPublicKeys: [serverKey] });
    expect(again.code).not.toBe(0);
    expect(await validPaths(pusher, [app])).toEqual([]);
    // The documented stopgap: a positive TTL of 0 makes it ask the server, which signs.
    pusher.assertOk(await realiseFromSubstituter(pusher, [app], { substituter: cacheUrl, trustedPublicKeys: [serverKey], options: { 'narinfo-cache-positive-ttl': 0 } }));
    expect(await validPaths(pusher, closure.outPaths)).toEqual(closure.outPaths);
  });

  it('the documented recipe: pushes signed with a trusted client key substitute back on the pusher', async () => {
    const pusher = machine('signed-pusher');
    const clientKey = await generateKey(pusher, 'ci.example-1');
    // Registered with the cache as a trusted uploader key (its signatures must verify).
    const trust = await fetch(`${cacheUrl}/-/trusted-keys`, { method: 'POST', headers: { authorization: `token ${token}`, 'content-type': 'text/plain' }, body: clientKey.publicKey });
    expect(trust.status).toBe(201);
    const closure = await buildClosure(pusher, [{ name: 'ttl-signed-lib', size: 8_000 }, { name: 'ttl-signed-app', size: 8_000, references: ['ttl-signed-lib'] }]);
    built.push(...closure.outPaths, ...closure.drvPaths);
    const app = closure.byName['ttl-signed-app']!.outPath;
    pusher.assertOk(await copyTo(pusher, cacheUrl, [app], { secretKeyFile: clientKey.secretKeyFile }));

    await deleteLocal(pusher, closure.outPaths);
    pusher.assertOk(await realiseFromSubstituter(pusher, [app], { substituter: cacheUrl, trustedPublicKeys: [serverKey, clientKey.publicKey] }));
    expect(await validPaths(pusher, closure.outPaths)).toEqual(closure.outPaths);

    // Another machine still needs only the server's key.
    const other = machine('signed-other');
    await deleteLocal(other, closure.outPaths);
    other.assertOk(await realiseFromSubstituter(other, [app], { substituter: cacheUrl, trustedPublicKeys: [serverKey] }));
    expect(await validPaths(other, closure.outPaths)).toEqual(closure.outPaths);
  });
});
