import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();

/**
 * docs/ui.md: UI requests authenticate by the session only and the UI never sends a 401
 * or a Basic challenge. A wrong `Authorization` header (a browser's cached Basic
 * credentials for the API, a stale token) must not turn pages into plain-text 401s.
 */
describe.each(kinds)('UI pages and a wrong Authorization header on %s', (kind) => {
  let t: TestServer;
  const headers: Record<string, string> = {};

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const alice = await t.createUser('alice');
    await t.createUser('hidden', { visibility: 'private' });
    const token = await t.token(alice, ['all']);
    expect((await fetch(`${t.url}/api/packages/alice/generic/p/1/f`, { method: 'PUT', body: 'x', headers: { authorization: `token ${token}` } })).status).toBe(201);
    headers['a wrong token'] = `token ${'0'.repeat(40)}`;
    headers['a wrong Basic password'] = basic('alice', 'not-her-password');
    headers['a Basic token for nobody'] = basic('', 'f'.repeat(40));
    headers['an unknown scheme'] = 'Negotiate abc';
    headers['a valid token'] = `token ${token}`;
  });
  afterAll(() => t?.close());

  const pages: Array<[string, number]> = [
    ['/', 200],
    ['/user/login', 200],
    ['/alice/-/packages', 200],
    ['/alice/-/packages/generic/p', 200],
    ['/hidden/-/packages', 404],
    ['/no-such-owner/-/packages', 404],
  ];

  it.each(['a wrong token', 'a wrong Basic password', 'a Basic token for nobody', 'an unknown scheme', 'a valid token'])(
    'answers pages as without it: %s',
    async (which) => {
      for (const [path, status] of pages) {
        const res = await fetch(t.url + path, { headers: { authorization: headers[which] }, redirect: 'manual' });
        expect(res.status, path).toBe(status);
        expect(res.headers.get('www-authenticate'), path).toBeNull();
        expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
        expect(res.headers.get('content-security-policy'), path).toContain("default-src 'self'");
        expect(res.headers.get('x-frame-options'), path).toBe('DENY');
        const html = await res.text();
        // The header never acts: the page is the visitor's.
        expect(html, path).not.toContain('Signed in as');
      }
      const signIn = await fetch(`${t.url}/user/settings/applications`, { headers: { authorization: headers[which] }, redirect: 'manual' });
      expect(signIn.status).toBe(303);
      expect(signIn.headers.get('location')).toMatch(/^\/user\/login/);
    },
  );

  it('keeps refusing wrong credentials on the API with 401 and a Basic challenge', async () => {
    const res = await fetch(`${t.url}/api/packages/alice/generic/p/1/f`, { headers: { authorization: headers['a wrong token'] } });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    const me = await fetch(`${t.url}/api/v1/user`, { headers: { authorization: headers['a wrong Basic password'] } });
    expect(me.status).toBe(401);
  });
});
