import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Scope, User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { FormClient } from '../../../../packages/web/test/integration/form-client.js';

const kinds = await testDatabaseKinds();

/**
 * Every `/api/v1` route takes the scope Gitea's would (issue 16, item 12): a token reads
 * the account only with `read:user`, lists packages only with `read:package`, manages
 * tokens with `read:user` / `write:user`, and a site admin acting on another user's
 * tokens also needs `read:admin` / `write:admin`.
 */
describe.each(kinds)('token scopes on every /api/v1 route on %s', (kind) => {
  let t: TestServer;
  let alice: User;
  let root: User;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    alice = await t.createUser('alice');
    root = await t.createUser('root', { admin: true });
    const put = await fetch(`${t.url}/api/packages/alice/generic/p/1/f`, { method: 'PUT', body: 'x', headers: { authorization: `token ${await t.token(alice, ['write:package'])}` } });
    expect(put.status).toBe(201);
  });
  afterAll(() => t?.close());

  const as = async (user: User, scopes: Scope[]) => `token ${await t.token(user, scopes)}`;
  const call = (path: string, authorization?: string, method = 'GET') =>
    fetch(`${t.url}/api/v1${path}`, { method, headers: authorization ? { authorization } : {} });

  // [route, method, scopes of alice's token, expected status]
  const ownCases: Array<[string, string, Scope[], number]> = [
    ['/user', 'GET', ['read:package'], 403],
    ['/user', 'GET', ['write:package'], 403],
    ['/user', 'GET', ['read:organization'], 403],
    ['/user', 'GET', ['read:user'], 200],
    ['/user', 'GET', ['write:user'], 200],
    ['/user', 'GET', ['all'], 200],
    ['/users/alice/tokens', 'GET', ['write:package'], 403],
    ['/users/alice/tokens', 'GET', ['read:user'], 200],
    ['/users/alice/tokens/no-such-token', 'DELETE', ['read:user'], 403],
    ['/users/alice/tokens/no-such-token', 'DELETE', ['write:package'], 403],
    ['/users/alice/tokens/no-such-token', 'DELETE', ['write:user'], 404],
    ['/users/alice/tokens', 'POST', ['all'], 403],
    ['/packages/alice', 'GET', ['read:user'], 403],
    ['/packages/alice', 'GET', ['read:package'], 200],
    ['/packages/alice', 'GET', ['write:package'], 200],
  ];

  it.each(ownCases)('%s %s with %j: %i', async (path, method, scopes, expected) => {
    const res = await call(path, await as(alice, scopes), method);
    expect(res.status).toBe(expected);
    const body = (await res.json()) as { message?: string; email?: string };
    if (expected === 403 && method !== 'POST') expect(body.message).toMatch(/lacks the "(read|write):(user|package)" scope/);
    if (expected !== 200) expect(body.email).toBeUndefined();
  });

  it('keeps the account password and anonymous callers as they were', async () => {
    expect((await call('/user', basic('alice', 'password-alice'))).status).toBe(200);
    expect((await call('/user')).status).toBe(401);
    expect((await call('/packages/alice')).status).toBe(200);
  });

  it('lets a site admin act on another user\'s tokens only with the admin scope', async () => {
    const target = await t.token(alice, ['read:package'], { name: 'to-be-revoked' });
    void target;
    expect((await call('/users/alice/tokens', await as(root, ['read:user']))).status).toBe(403);
    expect((await call('/users/alice/tokens', await as(root, ['read:user', 'read:admin']))).status).toBe(200);
    expect((await call('/users/alice/tokens/to-be-revoked', await as(root, ['write:user', 'read:admin']), 'DELETE')).status).toBe(403);
    expect((await call('/users/alice/tokens/to-be-revoked', await as(root, ['write:user', 'write:admin']), 'DELETE')).status).toBe(204);
    expect((await call('/users/alice/tokens', await as(root, ['all']))).status).toBe(200);
    // A user who is no site admin gets nothing from the admin scope.
    const bob = await t.createUser('bob');
    expect((await call('/users/alice/tokens', await as(bob, ['all']))).status).toBe(403);
  });

  it('creates tokens with the admin scopes over the API and shows them to site admins in the UI', async () => {
    const res = await fetch(`${t.url}/api/v1/users/root/tokens`, {
      method: 'POST',
      headers: { authorization: basic('root', 'password-root'), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'admin-read', scopes: ['read:admin', 'read:user'] }),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { scopes: string[] }).scopes).toEqual(['read:admin', 'read:user']);

    const admin = new FormClient(t.url);
    expect((await admin.signIn('root')).status).toBe(303);
    const adminPage = (await admin.page('/user/settings/applications')).html;
    for (const scope of ['read:user', 'write:user', 'read:package', 'read:admin', 'write:admin']) expect(adminPage).toContain(`value="${scope}"`);
    const user = new FormClient(t.url);
    expect((await user.signIn('alice')).status).toBe(303);
    const userPage = (await user.page('/user/settings/applications')).html;
    expect(userPage).toContain('value="read:user"');
    expect(userPage).not.toContain('value="read:admin"');
  });
});
