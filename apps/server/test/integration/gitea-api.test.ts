/**
 * The package and account API driven through gitea-js, the npm client generated from
 * Gitea's OpenAPI document, as a script written for Gitea would use it: no hand-written
 * HTTP calls to /api/v1 (the uploads are the generic package protocol, which Gitea's
 * client has no call for either). docs/api.md lists what still differs.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { giteaApi, type Api, type APIError } from 'gitea-js';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();

/** What gitea-js throws for an error answer: the fetch Response with the parsed body as `error`. */
async function failure(call: Promise<unknown>): Promise<{ status: number; error: APIError }> {
  try {
    await call;
  } catch (err) {
    const res = err as Response & { error: APIError };
    return { status: res.status, error: res.error };
  }
  throw new Error('the call succeeded');
}

describe.each(kinds)('Gitea API through gitea-js on %s', (kind) => {
  let t: TestServer;
  let alice: Api<unknown>;
  let aliceToken: string;
  let bob: Api<unknown>;
  let anonymous: Api<unknown>;
  const upload = (owner: string, name: string, version: string, file: string, body: string, token = aliceToken) =>
    fetch(`${t.url}/api/packages/${owner}/generic/${name}/${version}/${file}`, { method: 'PUT', body, headers: { authorization: `token ${token}` } });

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    await t.createUser('alice');
    await t.createUser('bob');
    await t.createUser('carol', { visibility: 'private' });
    aliceToken = await t.token((await t.forge.owners.findUser('alice'))!, ['read:package', 'write:package', 'read:user']);
    alice = giteaApi(t.url, { token: aliceToken });
    bob = giteaApi(t.url, { token: await t.token((await t.forge.owners.findUser('bob'))!) });
    anonymous = giteaApi(t.url);
    // Six versions of three packages, created in this order (newest last).
    for (const [name, version] of [['tool', '1.0'], ['tool', '1.1'], ['lib', '0.1'], ['tool', '2.0'], ['toolkit', '3.0'], ['lib', '0.2']]) {
      expect((await upload('alice', name!, version!, `${name}-${version}.tar.gz`, `${name} ${version}`)).status).toBe(201);
    }
    expect((await upload('carol', 'hidden', '1', 'f', 'x', await t.token((await t.forge.owners.findUser('carol'))!))).status).toBe(201);
  });
  afterAll(() => t?.close());

  it('answers the server version with a Gitea API level the clients accept', async () => {
    const { data } = await anonymous.version.getVersion();
    expect(data.version).toMatch(/^1\.23\.0\+forge-\d+\.\d+\.\d+/);
  });

  it('reads the current user in Gitea\'s shape', async () => {
    const { data } = await alice.user.userGetCurrent();
    expect(data).toMatchObject({ login: 'alice', username: 'alice', email: 'alice@example.test', is_admin: false, html_url: `${t.url}/alice` });
  });

  it('creates, lists and deletes a token with the account password', async () => {
    const password = { headers: { Authorization: basic('alice', 'password-alice') } };
    const { data: created } = await anonymous.users.userCreateToken('alice', { name: 'script', scopes: ['read:package'] }, password);
    expect(created.sha1).toMatch(/^[0-9a-f]{40}$/);
    const { data: listed } = await anonymous.users.userGetTokens('alice', {}, password);
    expect(listed.map((x) => x.name)).toContain('script');
    await anonymous.users.userDeleteAccessToken('alice', String(created.id), password);
    expect((await anonymous.users.userGetTokens('alice', {}, password)).data.map((x) => x.name)).not.toContain('script');
  });

  it('lists versions newest first, in Gitea\'s shape, with paging headers', async () => {
    const res = await alice.packages.listPackages('alice', { limit: 4 });
    expect(res.headers.get('x-total-count')).toBe('6');
    expect(res.data.map((p) => `${p.name}@${p.version}`)).toEqual(['lib@0.2', 'toolkit@3.0', 'tool@2.0', 'lib@0.1']);
    const first = res.data[0]!;
    expect(first).toMatchObject({
      type: 'generic',
      name: 'lib',
      version: '0.2',
      owner: { login: 'alice' },
      creator: { login: 'alice' },
      html_url: `${t.url}/alice/-/packages/generic/lib/0.2`,
    });
    expect(first.id).toBeGreaterThan(0);
    expect(new Date(first.created_at!).getTime()).toBeGreaterThan(Date.now() - 3_600_000);
    expect(res.headers.get('link')).toBe(
      `<${t.url}/api/v1/packages/alice?limit=4&page=2>; rel="next",<${t.url}/api/v1/packages/alice?limit=4&page=2>; rel="last"`,
    );
    const second = await alice.packages.listPackages('alice', { limit: 4, page: 2 });
    expect(second.data.map((p) => `${p.name}@${p.version}`)).toEqual(['tool@1.1', 'tool@1.0']);
    expect(second.headers.get('link')).toBe(
      `<${t.url}/api/v1/packages/alice?limit=4&page=1>; rel="first",<${t.url}/api/v1/packages/alice?limit=4&page=1>; rel="prev"`,
    );
  });

  it('filters the list by type and by a substring of the name, and pages as Gitea does', async () => {
    const tools = await alice.packages.listPackages('alice', { q: 'TOOL' });
    expect(tools.data.map((p) => `${p.name}@${p.version}`)).toEqual(['toolkit@3.0', 'tool@2.0', 'tool@1.1', 'tool@1.0']);
    expect((await alice.packages.listPackages('alice', { type: 'generic', q: 'lib' })).data).toHaveLength(2);
    const none = await alice.packages.listPackages('alice', { type: 'npm' });
    expect(none.data).toEqual([]);
    expect(none.headers.get('x-total-count')).toBe('0');
    // A page size beyond Gitea's maximum (50) is the maximum; none at all is its default (30).
    expect((await alice.packages.listPackages('alice', { limit: 1000 })).data).toHaveLength(6);
    expect((await alice.packages.listPackages('alice', { page: 7, limit: 1 })).data).toEqual([]);
  });

  it('gets one version and lists its files with size and md5, sha1, sha256 and sha512', async () => {
    const { data } = await alice.packages.getPackage('alice', 'generic', 'tool', '1.1');
    expect(data).toMatchObject({ name: 'tool', version: '1.1', type: 'generic' });
    const { data: files } = await alice.packages.listPackageFiles('alice', 'generic', 'tool', '1.1');
    const body = 'tool 1.1';
    expect(files).toEqual([
      expect.objectContaining({
        name: 'tool-1.1.tar.gz',
        Size: body.length,
        md5: createHash('md5').update(body).digest('hex'),
        sha1: createHash('sha1').update(body).digest('hex'),
        sha256: createHash('sha256').update(body).digest('hex'),
        sha512: createHash('sha512').update(body).digest('hex'),
      }),
    ]);
    expect(files[0]!.id).toBeGreaterThan(0);
  });

  it('lists the versions of one package and gets its latest (Gitea 1.24 calls, through the client\'s request method)', async () => {
    // gitea-js 1.23 predates these two calls; its generic request method sends them the same way.
    const versions = await alice.request<Array<{ version: string }>, APIError>({ path: '/packages/alice/generic/tool', method: 'GET', query: { limit: 2 }, secure: true, format: 'json' });
    expect(versions.data.map((p) => p.version)).toEqual(['2.0', '1.1']);
    expect(versions.headers.get('x-total-count')).toBe('3');
    const latest = await alice.request<{ name: string; version: string }, APIError>({ path: '/packages/alice/generic/TOOL/-/latest', method: 'GET', secure: true, format: 'json' });
    expect(latest.data).toMatchObject({ name: 'tool', version: '2.0' });
    expect((await failure(alice.request({ path: '/packages/alice/generic/nothing/-/latest', method: 'GET', secure: true, format: 'json' }))).status).toBe(404);
    expect((await failure(anonymous.request({ path: '/packages/carol/generic/hidden', method: 'GET', secure: true, format: 'json' }))).status).toBe(401);
  });

  it('answers errors in Gitea\'s shape: 404 for a missing version, 401 anonymous and 404 for others on a private owner', async () => {
    const missing = await failure(alice.packages.getPackage('alice', 'generic', 'tool', '9.9'));
    expect(missing).toEqual({ status: 404, error: { message: 'package version not found', url: `${t.url}/api/swagger` } });
    expect((await failure(alice.packages.getPackage('alice', 'no-such-type', 'tool', '1.0'))).status).toBe(404);
    expect((await failure(anonymous.packages.listPackages('carol'))).status).toBe(401);
    expect((await failure(anonymous.packages.getPackage('carol', 'generic', 'hidden', '1'))).status).toBe(401);
    expect((await failure(bob.packages.getPackage('carol', 'generic', 'hidden', '1'))).status).toBe(404);
    expect((await failure(bob.packages.listPackageFiles('carol', 'generic', 'hidden', '1'))).status).toBe(404);
    const unknownRoute = await failure(alice.repos.repoGet('alice', 'repo'));
    expect(unknownRoute.status).toBe(404);
    expect(unknownRoute.error.url).toBe(`${t.url}/api/swagger`);
  });

  it('deletes a version with write access only; the package goes with its last version', async () => {
    expect((await failure(bob.packages.deletePackage('alice', 'generic', 'tool', '1.0'))).status).toBe(403);
    expect((await failure(anonymous.packages.deletePackage('alice', 'generic', 'tool', '1.0'))).status).toBe(401);
    const readOnly = giteaApi(t.url, { token: await t.token((await t.forge.owners.findUser('alice'))!, ['read:package']) });
    expect((await failure(readOnly.packages.deletePackage('alice', 'generic', 'tool', '1.0'))).status).toBe(403);

    const res = await alice.packages.deletePackage('alice', 'generic', 'tool', '1.0');
    expect(res.status).toBe(204);
    expect((await failure(alice.packages.getPackage('alice', 'generic', 'tool', '1.0'))).status).toBe(404);
    expect((await alice.packages.listPackages('alice', { q: 'tool' })).data.map((p) => p.version)).not.toContain('1.0');
    // The generic protocol agrees: the file is gone.
    expect((await fetch(`${t.url}/api/packages/alice/generic/tool/1.0/tool-1.0.tar.gz`)).status).toBe(404);

    await alice.packages.deletePackage('alice', 'generic', 'toolkit', '3.0');
    expect(await t.forge.registry.getPackage((await t.forge.owners.findUser('alice'))!.id, 'generic', 'toolkit')).toBeNull();
  });
});
