import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { CacheClient, makePath, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();

/**
 * A cache more private than its owner: its store paths must not show anywhere the host
 * lists packages (the package API, the package list and package pages of the UI).
 */
describe.each(kinds)('a private cache under a public owner, on %s', (kind) => {
  let t: TestServer;
  let alice: string;
  let bob: string;
  let path: TestPath;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    alice = basic('alice', await t.token(await t.createUser('alice')));
    bob = basic('bob', await t.token(await t.createUser('bob')));
    const cache = new CacheClient(t, 'alice', alice);
    path = makePath({ name: 'secret-tool-1.0' });
    await cache.push(path);
    const generic = await fetch(`${t.url}/api/packages/alice/generic/public-thing/1/f`, { method: 'PUT', body: 'x', headers: { authorization: alice } });
    expect(generic.status).toBe(201);
    expect((await cache.admin('settings', { method: 'PUT', json: { visibility: 'private' } })).status).toBe(200);
  });
  afterAll(() => t?.close());

  const names = async (authorization?: string) => {
    const res = await fetch(`${t.url}/api/v1/packages/alice`, { headers: authorization ? { authorization } : {} });
    expect(res.status).toBe(200);
    return ((await res.json()) as Array<{ type: string; name: string }>).map((p) => `${p.type}/${p.name}`);
  };

  it('leaves the cache out of the package API for those who may not read it', async () => {
    expect(await names()).toEqual(['generic/public-thing']);
    expect(await names(bob)).toEqual(['generic/public-thing']);
    expect((await names(alice)).sort()).toEqual(['generic/public-thing', 'nix/secret-tool']);
  });

  it('leaves it out of the UI package list and answers its package and version pages with 404', async () => {
    const list = await (await fetch(`${t.url}/alice/-/packages`)).text();
    expect(list).toContain('public-thing');
    expect(list).not.toContain('secret-tool');
    expect(list).not.toContain(path.hashPart);
    expect((await fetch(`${t.url}/alice/-/packages?type=nix`)).status).toBe(200);
    expect(await (await fetch(`${t.url}/alice/-/packages?type=nix`)).text()).not.toContain('secret-tool');
    expect((await fetch(`${t.url}/alice/-/packages/nix/secret-tool`)).status).toBe(404);
    expect((await fetch(`${t.url}/alice/-/packages/nix/secret-tool/${path.baseName}`)).status).toBe(404);
    expect((await fetch(`${t.url}/alice/-/packages/generic/public-thing`)).status).toBe(200);
  });

  it('shows it again once the cache is public', async () => {
    const cache = new CacheClient(t, 'alice', alice);
    expect((await cache.admin('settings', { method: 'PUT', json: { visibility: 'inherit' } })).status).toBe(200);
    expect((await names()).sort()).toEqual(['generic/public-thing', 'nix/secret-tool']);
    expect((await fetch(`${t.url}/alice/-/packages/nix/secret-tool`)).status).toBe(200);
  });
});
