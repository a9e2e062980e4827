import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();

/**
 * Who may read and write packages, against public and private users and organisations,
 * through the generic registry's routes (the guard is shared by every package type).
 */
describe.each(kinds)('auth matrix on %s', (kind) => {
  let t: TestServer;
  const auth: Record<string, string | undefined> = {};
  let owner: User;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    owner = await t.createUser('pub');
    const priv = await t.createUser('priv', { visibility: 'private' });
    const other = await t.createUser('other');
    const admin = await t.createUser('root', { admin: true });
    const reader = await t.createUser('reader');
    const writer = await t.createUser('writer');
    const orgAdmin = await t.createUser('orgadmin');
    const porg = await t.forge.owners.createOrg({ name: 'porg', owner: orgAdmin });
    const vorg = await t.forge.owners.createOrg({ name: 'vorg', owner: orgAdmin, visibility: 'private' });
    for (const org of [porg, vorg]) {
      await t.forge.owners.setMember(org, reader, 'read');
      await t.forge.owners.setMember(org, writer, 'write');
    }

    auth.anonymous = undefined;
    auth.wrongToken = basic('pub', '0123456789abcdef0123456789abcdef01234567');
    auth.garbage = 'token not-a-token';
    const revoked = await t.token(owner, ['read:package', 'write:package'], { name: 'revoked' });
    await t.forge.tokens.revoke(owner, 'revoked');
    auth.revoked = basic('', revoked);
    const expired = await t.token(owner, ['read:package', 'write:package'], { name: 'expired', expiresAt: new Date(Date.now() + 60_000) });
    await t.forge.db.dataSource.query(`UPDATE access_token SET expires_at = now() - interval '1 minute' WHERE name = 'expired'`);
    auth.expired = `token ${expired}`;
    auth.ownerRead = basic('pub', await t.token(owner, ['read:package']));
    auth.ownerWrite = basic('pub', await t.token(owner, ['write:package']));
    auth.ownerBearer = `Bearer ${await t.token(owner, ['write:package'])}`;
    auth.ownerTokenScheme = `token ${await t.token(owner, ['write:package'])}`;
    auth.ownerEmptyUser = basic('', await t.token(owner, ['write:package']));
    auth.ownerUserScopeOnly = basic('pub', await t.token(owner, ['write:user']));
    auth.ownerPassword = basic('pub', 'password-pub');
    auth.privWrite = basic('priv', await t.token(priv, ['write:package']));
    auth.other = basic('other', await t.token(other, ['write:package']));
    auth.admin = basic('root', await t.token(admin, ['all']));
    auth.orgRead = basic('reader', await t.token(reader, ['write:package']));
    auth.orgWrite = basic('writer', await t.token(writer, ['write:package']));
    auth.orgAdmin = basic('orgadmin', await t.token(orgAdmin, ['write:package']));
    t.forge.tokens.clearCache();

    // One existing file per owner to read.
    for (const [name, who] of [['pub', 'ownerWrite'], ['priv', 'privWrite'], ['porg', 'orgAdmin'], ['vorg', 'orgAdmin']] as const) {
      const res = await put(name, 'existing', auth[who]);
      expect(res.status).toBe(201);
    }
  });
  afterAll(() => t?.close());

  let n = 0;
  const put = (owner: string, file: string, authorization?: string) =>
    fetch(`${t.url}/api/packages/${owner}/generic/pkg/1.0/${file}`, {
      method: 'PUT',
      body: 'data',
      headers: authorization ? { authorization } : {},
    });
  const get = (owner: string, file: string, authorization?: string) =>
    fetch(`${t.url}/api/packages/${owner}/generic/pkg/1.0/${file}`, { headers: authorization ? { authorization } : {} });

  // [actor, owner, expected read status, expected write status]
  const matrix: Array<[string, string, number, number]> = [
    ['anonymous', 'pub', 200, 401],
    ['anonymous', 'priv', 401, 401],
    ['anonymous', 'porg', 200, 401],
    ['anonymous', 'vorg', 401, 401],
    ['anonymous', 'nobody', 401, 401],
    ['wrongToken', 'pub', 401, 401],
    ['garbage', 'pub', 401, 401],
    ['revoked', 'pub', 401, 401],
    ['expired', 'pub', 401, 401],
    ['ownerPassword', 'pub', 401, 401],
    ['ownerRead', 'pub', 200, 403],
    ['ownerUserScopeOnly', 'pub', 403, 403],
    ['ownerWrite', 'pub', 200, 201],
    ['ownerBearer', 'pub', 200, 201],
    ['ownerTokenScheme', 'pub', 200, 201],
    ['ownerEmptyUser', 'pub', 200, 201],
    ['privWrite', 'priv', 200, 201],
    ['other', 'pub', 200, 403],
    ['other', 'priv', 404, 404],
    ['other', 'vorg', 404, 404],
    ['other', 'nobody', 404, 404],
    ['admin', 'priv', 200, 201],
    ['admin', 'vorg', 200, 201],
    ['orgRead', 'porg', 200, 403],
    ['orgRead', 'vorg', 200, 403],
    ['orgWrite', 'vorg', 200, 201],
    ['orgAdmin', 'vorg', 200, 201],
  ];

  it.each(matrix)('%s on %s: read %i, write %i', async (actor, ownerName, readStatus, writeStatus) => {
    const read = await get(ownerName, 'existing', auth[actor]);
    expect(read.status).toBe(readStatus);
    if (readStatus === 200) expect(await read.text()).toBe('data');
    if (readStatus === 401) expect(read.headers.get('www-authenticate')).toMatch(/^Basic /);
    const write = await put(ownerName, `new-${++n}`, auth[actor]);
    expect(write.status).toBe(writeStatus);
  });

  it('answers a missing file in a private namespace exactly like a present one to outsiders', async () => {
    for (const file of ['existing', 'missing']) {
      expect((await get('priv', file, auth.other)).status).toBe(404);
      expect((await get('priv', file)).status).toBe(401);
    }
  });

  it('records when a token was last used', async () => {
    const token = await t.token(owner, ['read:package'], { name: 'usage' });
    expect((await get('pub', 'existing', basic('', token))).status).toBe(200);
    await new Promise((r) => setTimeout(r, 100));
    const list = await t.forge.tokens.list(owner);
    expect(list.find((x) => x.name === 'usage')?.lastUsedAt).toBeInstanceOf(Date);
  });
});
