/**
 * A store path is a package version in Gitea's package API, as it is in the UI: listed,
 * read, its files listed and deleted through gitea-js (the npm client generated from
 * Gitea's OpenAPI document), the way a script written for Gitea would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giteaApi, type Api, type APIError } from 'gitea-js';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { sha256 } from '../../src/format/index.js';
import { CacheClient, makePath, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();

async function failure(call: Promise<unknown>): Promise<{ status: number; error: APIError }> {
  try {
    await call;
  } catch (err) {
    const res = err as Response & { error: APIError };
    return { status: res.status, error: res.error };
  }
  throw new Error('the call succeeded');
}

const hex = (hash: { digest: Uint8Array }) => Buffer.from(hash.digest).toString('hex');

describe.each(kinds)('store paths as versions through gitea-js on %s', (kind) => {
  let t: TestServer;
  let api: Api<unknown>;
  let cache: CacheClient;
  let lib: TestPath;
  let app: TestPath;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const token = await t.token(await t.createUser('alice'));
    api = giteaApi(t.url, { token });
    cache = new CacheClient(t, 'alice', basic('alice', token));
    lib = makePath({ name: 'libfoo-1.2' });
    app = makePath({ name: 'hello-2.12', references: [lib] });
    await cache.push(lib, app);
  });
  afterAll(() => t?.close());

  it('lists store paths as versions of their parseDrvName package', async () => {
    const res = await api.packages.listPackages('alice', { type: 'nix' as never });
    expect(res.headers.get('x-total-count')).toBe('2');
    expect(res.data.map((p) => [p.type, p.name, p.version])).toEqual([
      ['nix', 'hello', app.baseName],
      ['nix', 'libfoo', lib.baseName],
    ]);
    expect(res.data[0]!.html_url).toBe(`${t.url}/alice/-/packages/nix/hello/${app.baseName}`);
    expect(res.data[0]!.creator?.login).toBe('alice');
    expect((await api.packages.listPackages('alice', { q: 'libf' })).data.map((p) => p.version)).toEqual([lib.baseName]);
  });

  it('finds a store path by its base name, its hash part or its full path (URL-encoded)', async () => {
    // gitea-js puts path parameters in the URL as given: a full store path is encoded by the caller.
    for (const version of [app.baseName, app.hashPart, encodeURIComponent(`/nix/store/${app.baseName}`)]) {
      const { data } = await api.packages.getPackage('alice', 'nix', 'hello', version);
      expect(data, version).toMatchObject({ type: 'nix', name: 'hello', version: app.baseName });
    }
    // The hash part of another package's path, or a base name whose name is not the path's, names nothing.
    expect((await failure(api.packages.getPackage('alice', 'nix', 'hello', lib.hashPart))).status).toBe(404);
    expect((await failure(api.packages.getPackage('alice', 'nix', 'hello', `${app.hashPart}-hello-9`))).status).toBe(404);
    expect((await failure(api.packages.getPackage('alice', 'nix', 'hello', 'a'.repeat(32)))).status).toBe(404);
  });

  it('lists its files: the NAR and its listing, with size and sha256', async () => {
    const { data: files } = await api.packages.listPackageFiles('alice', 'nix', 'hello', app.hashPart);
    const nar = files.find((f) => f.name === app.url)!;
    // The cache does not compute md5, sha1 and sha512 of what it stores (docs/api.md).
    expect(nar).toMatchObject({ Size: app.file.length, sha256: hex(sha256(app.file)), md5: '', sha1: '', sha512: '' });
    expect(files.map((f) => f.name).sort()).toEqual([`${app.hashPart}.ls`, app.url].sort());
  });

  it('refuses to delete a path another path references (409), deletes it once that one is gone', async () => {
    const refused = await failure(api.packages.deletePackage('alice', 'nix', 'libfoo', lib.baseName));
    expect(refused.status).toBe(409);
    expect(refused.error.message).toContain(`${app.hashPart}-hello-2.12`);
    expect((await cache.get(`${lib.hashPart}.narinfo`)).status).toBe(200);

    expect((await api.packages.deletePackage('alice', 'nix', 'hello', app.hashPart)).status).toBe(204);
    expect((await cache.get(`${app.hashPart}.narinfo`)).status).toBe(404);
    expect((await cache.get(app.url)).status).toBe(404);
    expect((await api.packages.deletePackage('alice', 'nix', 'libfoo', lib.baseName)).status).toBe(204);
    expect((await cache.get(`${lib.hashPart}.narinfo`)).status).toBe(404);
    expect((await api.packages.listPackages('alice')).data).toEqual([]);
  });

  it('deletes a path with what depends on it when asked to (recursive=true, an extension)', async () => {
    const base = makePath({ name: 'base-1' });
    const top = makePath({ name: 'top-1', references: [base] });
    await cache.push(base, top);
    const res = await api.packages.deletePackage('alice', 'nix', 'base', base.hashPart, { query: { recursive: 'true' } } as never);
    expect(res.status).toBe(204);
    expect((await cache.get(`${top.hashPart}.narinfo`)).status).toBe(404);
  });
});
