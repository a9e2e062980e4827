/**
 * Who may read and write an owner's Nix cache: token scopes, other owners, private caches
 * (nobody without read access learns whether a path exists), a cache's own visibility
 * against its owner's, and `Expect: 100-continue` refused before the body is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { CacheClient, expectNothingLeft, makePath, putExpectingContinue, randomHashPart, rowCounts, tmpFiles, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('nix cache auth on %s', (kind) => {
  let t: TestServer;
  const auth: Record<string, string> = {};
  /** One pushed path per owner. */
  const pushed: Record<string, TestPath> = {};
  const client = (owner: string, who?: string) => new CacheClient(t, owner, who === undefined ? undefined : auth[who]);

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const alice = await t.createUser('alice');
    const bob = await t.createUser('bob');
    const vera = await t.createUser('vera', { visibility: 'private' });
    const pam = await t.createUser('pam', { visibility: 'private' });
    const quinn = await t.createUser('quinn');
    auth.alice = basic('alice', await t.token(alice));
    // netrc with only a password: Basic base64(":<token>").
    auth.aliceNetrc = basic('', await t.token(alice));
    auth.aliceRead = basic('alice', await t.token(alice, ['read:package']));
    auth.aliceNoPackages = basic('alice', await t.token(alice, ['read:user']));
    auth.bob = basic('bob', await t.token(bob));
    auth.vera = basic('vera', await t.token(vera));
    auth.veraRead = basic('vera', await t.token(vera, ['read:package']));
    auth.pam = basic('pam', await t.token(pam));
    auth.quinn = basic('quinn', await t.token(quinn));
    auth.wrongToken = basic('alice', '0'.repeat(40));

    for (const owner of ['alice', 'bob', 'vera', 'pam', 'quinn']) {
      pushed[owner] = makePath({ name: `${owner}-pkg-1.0`, compression: 'zstd' });
      await client(owner, owner).push(pushed[owner]!);
    }
    expect((await client('pam', 'pam').admin('settings', { method: 'PUT', json: { visibility: 'public' } })).status).toBe(200);
    expect((await client('quinn', 'quinn').admin('settings', { method: 'PUT', json: { visibility: 'private' } })).status).toBe(200);
    t.forge.tokens.clearCache();
  });
  afterAll(() => t?.close());

  /** Every read route of a cache, for a present path and a missing one. */
  const reads = (p: TestPath) => [
    'nix-cache-info',
    `${p.hashPart}.narinfo`,
    `${randomHashPart()}.narinfo`,
    p.url,
    `nar/${'1'.repeat(52)}.nar.zst`,
    `${p.hashPart}.ls`,
    `log/${randomHashPart()}-x.drv`,
    '-/settings',
    '-/public-key',
  ];

  /** Every write route, each with a body it would accept from someone allowed. */
  const writes = (owner: string) => {
    const q = makePath({ name: `${owner}-write-test` });
    return [
      { method: 'PUT', rest: 'nix-cache-info', body: 'StoreDir: /nix/store\n' },
      { method: 'PUT', rest: `nar/${q.fileName}`, body: q.file },
      { method: 'PUT', rest: `${pushed[owner]!.hashPart}.narinfo`, body: pushed[owner]!.narinfo },
      { method: 'PUT', rest: `${q.hashPart}.ls`, body: '{"version":1,"root":{"type":"regular","size":1,"narOffset":96}}' },
      { method: 'PUT', rest: `log/${randomHashPart()}-x.drv`, body: 'log' },
      { method: 'PUT', rest: `debuginfo/${'ab'.repeat(20)}.debug`, body: '{"archive":"../nar/x.nar","member":"y"}' },
      { method: 'DELETE', rest: `${pushed[owner]!.hashPart}.narinfo` },
      { method: 'PUT', rest: '-/settings', body: '{"priority":1}', type: 'application/json' },
      { method: 'POST', rest: '-/keys/rotate' },
      { method: 'POST', rest: '-/trusted-keys', body: `x-1:${Buffer.alloc(32, 1).toString('base64')}` },
    ];
  };

  async function attemptWrites(owner: string, who: string | undefined, expected: number) {
    const c = client(owner, who);
    for (const w of writes(owner)) {
      await expectNothingLeft(t, async () => {
        const res = await c.fetch(w.rest, { method: w.method, body: w.body as BodyInit | undefined, headers: w.type ? { 'content-type': w.type } : {} });
        expect(res.status, `${who ?? 'anonymous'} ${w.method} ${owner}/${w.rest}`).toBe(expected);
        if (expected === 401) expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
      });
    }
    // Nothing changed: the path is still served, with the same key.
    expect((await client(owner, owner).get(`${pushed[owner]!.hashPart}.narinfo`)).status).toBe(200);
  }

  it('lets a read-only token read but not write or delete (403)', async () => {
    for (const rest of [`${pushed.alice!.hashPart}.narinfo`, pushed.alice!.url]) {
      expect((await client('alice', 'aliceRead').get(rest)).status).toBe(200);
    }
    await attemptWrites('alice', 'aliceRead', 403);
    // Without the package scopes, not even reads.
    expect((await client('alice', 'aliceNoPackages').get(`${pushed.alice!.hashPart}.narinfo`)).status).toBe(403);
  });

  it('takes the token as the password of HTTP Basic with any or an empty login (netrc)', async () => {
    const p = makePath({ name: 'via-netrc' });
    await client('alice', 'aliceNetrc').push(p);
    expect((await client('alice', 'wrongToken').get(`${p.hashPart}.narinfo`)).status).toBe(401);
    expect((await client('alice', 'wrongToken').putNar(makePath())).status).toBe(401);
  });

  it('refuses writes to another owner\'s cache: 403 when it is public, 404 when it is private', async () => {
    for (const rest of reads(pushed.alice!).slice(0, 2)) expect((await client('alice', 'bob').get(rest)).status).toBe(200);
    await attemptWrites('alice', 'bob', 403);
    await attemptWrites('vera', 'bob', 404);
    await attemptWrites('alice', undefined, 401);
  });

  it('tells a non-member what is true about a private cache of a public owner, the same whether the path exists or not', async () => {
    // quinn is public, quinn's cache private: bob may not write there, as with any owner he is no member of.
    await attemptWrites('quinn', 'bob', 403);
    const bob = client('quinn', 'bob');
    const put = await bob.fetch(`${randomHashPart()}.narinfo`, { method: 'PUT', body: 'StorePath: x\n' });
    expect(put.status).toBe(403);
    expect(await put.text()).toContain('"bob" may not write to the packages of "quinn"');
    // The same words as for a public cache (alice's): nothing tells a private cache from a public one.
    expect(await (await client('alice', 'bob').fetch(`${randomHashPart()}.narinfo`, { method: 'PUT', body: 'StorePath: x\n' })).text()).toContain(
      '"bob" may not write to the packages of "alice"',
    );
    // Reading: 404, present or missing alike, and never the untrue "owner not found".
    const texts = new Set<string>();
    for (const rest of [`${pushed.quinn!.hashPart}.narinfo`, `${randomHashPart()}.narinfo`, 'nix-cache-info']) {
      const res = await bob.get(rest);
      expect(res.status, rest).toBe(404);
      const text = await res.text();
      expect(text).not.toMatch(/owner "quinn" not found/);
      texts.add(text);
    }
    expect(texts.size).toBe(1);
    expect([...texts][0]).toContain('"quinn" has no such packages that "bob" may read');
  });

  it('hides a private cache: anonymous readers get 401 with a Basic challenge, other users 404, present or missing alike', async () => {
    for (const owner of ['vera', 'quinn']) {
      const anonymous: string[] = [];
      const outsider: string[] = [];
      for (const rest of reads(pushed[owner]!)) {
        const a = await client(owner).get(rest);
        expect(a.status, `anonymous ${owner}/${rest}`).toBe(401);
        expect(a.headers.get('www-authenticate')).toMatch(/^Basic /);
        anonymous.push(await a.text());
        expect((await client(owner).head(rest)).status).toBe(401);
        const b = await client(owner, 'bob').get(rest);
        expect(b.status, `bob ${owner}/${rest}`).toBe(404);
        outsider.push(await b.text());
        expect((await client(owner, 'bob').head(rest)).status).toBe(404);
      }
      // Same answer, word for word, whatever the path.
      expect(new Set(anonymous).size).toBe(1);
      expect(new Set(outsider).size).toBe(1);
    }
    // The owner reads (a read-only token is enough); a missing path is a plain 404 to them.
    expect((await client('vera', 'veraRead').get(`${pushed.vera!.hashPart}.narinfo`)).status).toBe(200);
    expect((await client('vera', 'veraRead').get(pushed.vera!.url)).status).toBe(200);
    expect((await client('vera', 'veraRead').get(`${randomHashPart()}.narinfo`)).status).toBe(404);
    expect((await client('quinn', 'quinn').get(`${pushed.quinn!.hashPart}.narinfo`)).status).toBe(200);
  });

  it('a private owner\'s cache made public is readable by anyone, writable only by its owner', async () => {
    const pam = pushed.pam!;
    for (const who of [undefined, 'bob']) {
      expect((await client('pam', who).get('nix-cache-info')).status).toBe(200);
      expect((await client('pam', who).get(`${pam.hashPart}.narinfo`)).status).toBe(200);
      expect((await client('pam', who).head(pam.url)).status).toBe(200);
      expect((await client('pam', who).get(`${randomHashPart()}.narinfo`)).status).toBe(404);
    }
    await attemptWrites('pam', 'bob', 403);
    await attemptWrites('pam', undefined, 401);
    // Public content gets shared-cache headers, private content does not.
    expect((await client('pam').get(pam.url)).headers.get('cache-control')).toMatch(/^public/);
    expect((await client('quinn', 'quinn').get(pushed.quinn!.url)).headers.get('cache-control')).toMatch(/^private/);
  });

  it('applies a visibility change at once', async () => {
    const alice = client('alice', 'alice');
    const path = `${pushed.alice!.hashPart}.narinfo`;
    expect((await alice.admin('settings', { method: 'PUT', json: { visibility: 'private' } })).status).toBe(200);
    expect((await client('alice').get(path)).status).toBe(401);
    expect((await client('alice', 'bob').get(path)).status).toBe(404);
    expect((await alice.get(path)).status).toBe(200);
    expect((await alice.admin('settings', { method: 'PUT', json: { visibility: 'inherit' } })).status).toBe(200);
    expect((await client('alice').get(path)).status).toBe(200);
  });

  it('refuses an unauthorised PUT with Expect: 100-continue before the body is sent', async () => {
    const p = makePath({ name: 'expect-continue', compression: 'zstd' });
    const before = await rowCounts(t);
    const base = (owner: string) => `${t.url}/api/packages/${owner}/nix`;
    const cases: Array<[string, string | undefined, number]> = [
      ['alice', undefined, 401],
      ['alice', 'wrongToken', 401],
      ['alice', 'bob', 403],
      ['alice', 'aliceRead', 403],
      ['vera', 'bob', 404],
      ['vera', undefined, 401],
    ];
    for (const [owner, who, status] of cases) {
      for (const [rest, body] of [
        [`nar/${p.fileName}`, p.file],
        [`${p.hashPart}.narinfo`, p.narinfo],
        [`log/${randomHashPart()}-x.drv`, 'log'],
      ] as const) {
        const res = await putExpectingContinue(`${base(owner)}/${rest}`, body, who ? { authorization: auth[who]! } : {});
        expect(res, `${who ?? 'anonymous'} PUT ${owner}/${rest}`).toMatchObject({ status, continued: false });
      }
    }
    // A bad file name is refused before the body too.
    expect(await putExpectingContinue(`${base('alice')}/nar/not-a-nar`, 'x', { authorization: auth.alice! })).toMatchObject({ status: 400, continued: false });
    expect(await rowCounts(t)).toEqual(before);
    expect(await tmpFiles(t)).toEqual([]);

    // The owner gets a 100 Continue, then the upload goes through.
    expect(await putExpectingContinue(`${base('alice')}/nar/${p.fileName}`, p.file, { authorization: auth.alice! })).toMatchObject({ status: 201, continued: true });
    expect(await putExpectingContinue(`${base('alice')}/${p.hashPart}.narinfo`, p.narinfo, { authorization: auth.alice! })).toMatchObject({ status: 201, continued: true });
    expect((await client('alice').get(`${p.hashPart}.narinfo`)).status).toBe(200);
  });

  it('answers Expect: 100-continue on the settings API too (a JSON parser must not wait for the body first)', async () => {
    const url = `${t.url}/api/packages/alice/nix/-/settings`;
    const json = { 'content-type': 'application/json' };
    expect(await putExpectingContinue(url, '{"priority":7}', json)).toMatchObject({ status: 401, continued: false });
    expect(await putExpectingContinue(url, '{"priority":7}', { ...json, authorization: auth.bob! })).toMatchObject({ status: 403, continued: false });
    expect(await putExpectingContinue(url, '{"priority":7}', { ...json, authorization: auth.alice! })).toMatchObject({ status: 200, continued: true });
    expect(await (await client('alice').get('nix-cache-info')).text()).toContain('Priority: 7\n');
    const trusted = `${t.url}/api/packages/alice/nix/-/trusted-keys`;
    const key = JSON.stringify({ public_key: `expect-1:${Buffer.alloc(32, 9).toString('base64')}` });
    expect(await putExpectingContinue(trusted, key, { ...json, authorization: auth.aliceRead! }, 'POST')).toMatchObject({ status: 403, continued: false });
    expect(await putExpectingContinue(trusted, key, { ...json, authorization: auth.alice! }, 'POST')).toMatchObject({ status: 201, continued: true });
  });
});
