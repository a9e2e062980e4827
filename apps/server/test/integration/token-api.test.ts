import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();

describe.each(kinds)('token API on %s', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    await t.createUser('alice');
    await t.createUser('mallory');
  });
  afterAll(() => t?.close());

  const api = (path: string, init: RequestInit = {}) => fetch(`${t.url}/api/v1${path}`, init);
  const alicePassword = basic('alice', 'password-alice');

  it('creates a token with the account password, shows it once, and lets it be used', async () => {
    const res = await api('/users/alice/tokens', {
      method: 'POST',
      headers: { authorization: alicePassword, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'laptop', scopes: ['read:package', 'write:package'] }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as { id: number; sha1: string; token_last_eight: string; scopes: string[] };
    expect(created.sha1).toMatch(/^[0-9a-f]{40}$/);
    expect(created.token_last_eight).toBe(created.sha1.slice(-8));
    expect(created.scopes).toEqual(['read:package', 'write:package']);

    const listed = (await (await api('/users/alice/tokens', { headers: { authorization: alicePassword } })).json()) as Array<{ name: string; sha1: string }>;
    expect(listed.map((t) => t.name)).toContain('laptop');
    expect(listed.every((t) => t.sha1 === '')).toBe(true);

    const put = await fetch(`${t.url}/api/packages/alice/generic/p/1/f`, { method: 'PUT', body: 'x', headers: { authorization: basic('', created.sha1) } });
    expect(put.status).toBe(201);
    // A package token does not read the account (that takes read:user, as in Gitea).
    const me = await api('/user', { headers: { authorization: `token ${created.sha1}` } });
    expect(me.status).toBe(403);
  });

  it('refuses duplicate names, unknown scopes and past expiry with clear 4xx', async () => {
    const post = (body: object) =>
      api('/users/alice/tokens', { method: 'POST', headers: { authorization: alicePassword, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect((await post({ name: 'laptop', scopes: ['read:package'] })).status).toBe(409);
    const unknown = await post({ name: 'x', scopes: ['read:everything'] });
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { message: string }).message).toMatch(/unknown scope/);
    expect((await post({ name: 'y', scopes: ['read:package'], expires_at: '2001-01-01T00:00:00Z' })).status).toBe(400);
    expect((await post({ name: '', scopes: ['read:package'] })).status).toBe(400);
    const malformed = await api('/users/alice/tokens', { method: 'POST', headers: { authorization: alicePassword, 'content-type': 'application/json' }, body: '{nope' });
    expect(malformed.status).toBe(400);
  });

  it('does not let a token mint tokens, nor anyone manage another user\'s tokens', async () => {
    const token = await t.token((await t.forge.owners.findUser('alice'))!, ['all'], { name: 'all-scopes' });
    const byToken = await api('/users/alice/tokens', {
      method: 'POST',
      headers: { authorization: `token ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'minted', scopes: ['all'] }),
    });
    expect(byToken.status).toBe(403);
    const mallory = basic('mallory', 'password-mallory');
    expect((await api('/users/alice/tokens', { headers: { authorization: mallory } })).status).toBe(403);
    expect((await api('/users/alice/tokens')).status).toBe(401);
    expect((await api('/users/alice/tokens', { headers: { authorization: basic('alice', 'wrong-password') } })).status).toBe(401);
  });

  it('revokes a token by name; the token stops working at once', async () => {
    const created = (await (
      await api('/users/alice/tokens', {
        method: 'POST',
        headers: { authorization: alicePassword, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'short-lived', scopes: ['read:package'] }),
      })
    ).json()) as { sha1: string };
    const read = () => fetch(`${t.url}/api/packages/alice/generic/p/1/f`, { headers: { authorization: basic('', created.sha1) } });
    expect((await read()).status).toBe(200);
    expect((await api('/users/alice/tokens/short-lived', { method: 'DELETE', headers: { authorization: alicePassword } })).status).toBe(204);
    expect((await read()).status).toBe(401);
    expect((await api('/users/alice/tokens/short-lived', { method: 'DELETE', headers: { authorization: alicePassword } })).status).toBe(404);
  });
});
