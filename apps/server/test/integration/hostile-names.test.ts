import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, recordingLogger, startTestServer, type TestServer } from '@forge/server/testing';
import { FormClient, csrfToken } from '../../../../packages/web/test/integration/form-client.js';

const kinds = await testDatabaseKinds();

/**
 * Names and text that PostgreSQL cannot store or that no name may hold (a NUL byte,
 * control characters, lone surrogates, absurd lengths) are refused as bad input (4xx)
 * before they reach the database: never a 500, never an error-level log line.
 */
describe.each(kinds)('hostile names and text on %s', (kind) => {
  let t: TestServer;
  const logger = recordingLogger();
  let token: string;
  const alicePassword = basic('alice', 'password-alice');

  beforeAll(async () => {
    t = await startTestServer({ db: kind, logger });
    const alice = await t.createUser('alice');
    await t.forge.owners.createOrg({ name: 'acme', owner: alice });
    token = await t.token(alice, ['all']);
    const put = await fetch(`${t.url}/api/packages/alice/generic/p/1/f`, { method: 'PUT', body: 'x', headers: { authorization: `token ${token}` } });
    expect(put.status).toBe(201);
  });
  afterAll(() => t?.close());

  let seen = 0;
  beforeEach(() => {
    seen = logger.lines.length;
  });
  function noErrorsLogged() {
    const errors = logger.lines.slice(seen).filter((l) => l.level === 'error');
    expect(errors, JSON.stringify(errors, null, 1)).toEqual([]);
  }

  const json = (body: unknown) => ({
    method: 'POST',
    headers: { authorization: alicePassword, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

  // [what, path, init, expected status]
  const apiCases: Array<[string, string, RequestInit, number]> = [
    ['a NUL in an owner name (Nix cache)', '/api/packages/al%00ice/nix/nix-cache-info', {}, 400],
    ['a NUL in an owner name (narinfo)', '/api/packages/al%00ice/nix/0123456789abcdfghijklmnpqrsvwxyz.narinfo', {}, 400],
    ['a NUL in an owner name (generic)', '/api/packages/al%00ice/generic/p/1/f', {}, 400],
    ['a NUL in an owner name (API, with a token)', '/api/packages/al%00ice/generic/p/1/f', { headers: { authorization: `token ${TOKEN_PLACEHOLDER}` } }, 400],
    ['a NUL in a package name', '/api/packages/alice/generic/p%00/1/f', { method: 'PUT', body: 'x', headers: { authorization: `token ${TOKEN_PLACEHOLDER}` } }, 400],
    ['a NUL in the packages API', '/api/v1/packages/a%00', {}, 400],
    ['a NUL in a search', '/api/v1/packages/alice?q=%00', {}, 400],
    ['a NUL in a type filter', '/api/v1/packages/alice?type=gen%00eric', {}, 400],
    ['a NUL in a user name (tokens API)', '/api/v1/users/a%00/tokens', { headers: { authorization: alicePassword } }, 400],
    ['a NUL in a token name to revoke', '/api/v1/users/alice/tokens/a%00b', { method: 'DELETE', headers: { authorization: alicePassword } }, 400],
    ['a NUL in a token name', '/api/v1/users/alice/tokens', json({ name: 'a\u0000b', scopes: ['read:package'] }), 400],
    ['a control character in a token name', '/api/v1/users/alice/tokens', json({ name: 'bell\u0007', scopes: ['read:package'] }), 400],
    ['a lone surrogate in a token name', '/api/v1/users/alice/tokens', json({ name: 'half \ud800', scopes: ['read:package'] }), 400],
    ['an over-long token name', '/api/v1/users/alice/tokens', json({ name: 'n'.repeat(256), scopes: ['read:package'] }), 400],
    ['a NUL in Nix cache settings', '/api/packages/alice/nix/-/settings?x=%00', { headers: { authorization: `token ${TOKEN_PLACEHOLDER}` } }, 400],
    ['a NUL in a trusted key name', '/api/packages/alice/nix/-/trusted-keys', { method: 'POST', headers: { authorization: `token ${TOKEN_PLACEHOLDER}`, 'content-type': 'application/json' }, body: JSON.stringify({ publicKey: `a\u0000b:${'A'.repeat(43)}=` }) }, 400],
    ['a NUL in an imported key name', '/api/packages/alice/nix/-/keys/import', { method: 'POST', headers: { authorization: `token ${TOKEN_PLACEHOLDER}`, 'content-type': 'application/json' }, body: JSON.stringify({ secretKey: `a\u0000b:${'A'.repeat(86)}==` }) }, 400],
    ['a NUL in a cache visibility', '/api/packages/alice/nix/-/settings', { method: 'PUT', headers: { authorization: `token ${TOKEN_PLACEHOLDER}`, 'content-type': 'application/json' }, body: JSON.stringify({ visibility: 'pub\u0000lic' }) }, 400],
    ['a NUL in a Basic user name', '/api/v1/user', { headers: { authorization: basic('al\u0000ice', 'password-alice') } }, 401],
    ['a NUL in a Basic email', '/api/v1/user', { headers: { authorization: basic('alice\u0000@example.test', 'password-alice') } }, 401],
    ['a control character in a Basic user name', '/api/v1/user', { headers: { authorization: basic('al\u001bice', 'password-alice') } }, 401],
    ['an over-long Basic user name', '/api/v1/user', { headers: { authorization: basic('a'.repeat(4000), 'password-alice') } }, 401],
    ['an over-long Basic email', '/api/v1/user', { headers: { authorization: basic('a'.repeat(4000) + '@example.test', 'password-alice') } }, 401],
    ['a page beyond every offset', '/api/v1/packages/alice?page=1e300', {}, 200],
    ['a key id beyond int4', '/api/packages/alice/nix/-/keys/99999999999', { method: 'DELETE', headers: { authorization: `token ${TOKEN_PLACEHOLDER}` } }, 404],
    ['a token id beyond int4', '/api/v1/users/alice/tokens/99999999999', { method: 'DELETE', headers: { authorization: alicePassword } }, 404],
    ['invalid UTF-8 in a Basic user name', '/api/v1/user', { headers: { authorization: 'Basic ' + Buffer.concat([Buffer.from([0xed, 0xa0, 0x80, 0xff]), Buffer.from(':password-alice')]).toString('base64') } }, 401],
  ];

  it.each(apiCases)('API: %s', async (_what, path, init, expected) => {
    const headers = new Headers(init.headers);
    const auth = headers.get('authorization');
    if (auth?.includes(TOKEN_PLACEHOLDER)) headers.set('authorization', auth.replace(TOKEN_PLACEHOLDER, token));
    const res = await fetch(t.url + path, { ...init, headers });
    expect(res.status).toBe(expected);
    await res.arrayBuffer();
    noErrorsLogged();
  });

  it('UI: a NUL or invalid UTF-8 in an owner name, a page path or a search is a 400 page, not a 500', async () => {
    for (const path of ['/al%00ice/-/packages', '/al%00ice', '/alice/-/packages?q=%00', '/alice/-/packages/generic/p%00', '/al%00ice/-/settings', '/%FF/-/packages', '/alice/-/packages/generic/%ED%A0%80']) {
      const res = await fetch(t.url + path);
      expect(res.status, path).toBe(400);
      expect(res.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(res.headers.get('content-security-policy'), path).toBeTruthy();
      await res.arrayBuffer();
    }
    noErrorsLogged();
  });

  it('UI: forms with a NUL or a control character in a name are refused with a 400 page', async () => {
    const c = new FormClient(t.url);
    const login = await c.page('/user/login');
    const signIn = await c.post('/user/login', { user_name: 'al\u0000ice', password: 'password-alice' }, { csrf: csrfToken(login.html) });
    expect(signIn.status).toBe(400);
    expect(await signIn.text()).toMatch(/NUL|control character|not valid/i);

    const d = new FormClient(t.url);
    const signUp = await d.post('/user/sign_up', { user_name: 'eve', email: 'eve\u0000@example.test', password: 'a-long-passphrase', retype: 'a-long-passphrase' });
    expect(signUp.status).toBe(400);
    expect(await t.forge.owners.findByName('eve')).toBeNull();

    const a = new FormClient(t.url);
    expect((await a.signIn('alice')).status).toBe(303);
    const member = await a.post('/acme/-/settings/members/add', { username: 'bo\u0000b', role: 'read' }, { from: '/acme/-/settings/members' });
    expect(member.status).toBe(400);
    const tokenName = await a.post('/user/settings/applications', { name: 'x\u0000', scopes: 'read:package' });
    expect(tokenName.status).toBe(400);
    const org = await a.post('/org/create', { org_name: 'o\u0000rg' }, { from: '/org/create' });
    expect(org.status).toBe(400);
    noErrorsLogged();
  });

  it('UI: a tampered page cursor (NUL, id or size beyond their columns) is the first page, not a 500', async () => {
    const enable = await fetch(`${t.url}/api/packages/alice/nix/-/settings`, { method: 'PUT', headers: { authorization: `token ${token}`, 'content-type': 'application/json' }, body: '{}' });
    expect(enable.status).toBe(200);
    const cursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cases = [
      ['name', ['a\u0000b', 1]],
      ['name', ['a', 99_999_999_999]],
      ['size', [1e300, 1]],
      ['size', [12, 1e300]],
      ['created', ['99999999999999999', 99_999_999_999]],
    ] as const;
    for (const [sort, value] of cases) {
      for (const param of ['after', 'before']) {
        const res = await fetch(`${t.url}/alice/-/packages/nix/-/cache/paths?sort=${sort}&${param}=${cursor(value)}`);
        expect(res.status, `${sort} ${param} ${JSON.stringify(value)}`).toBe(200);
        await res.arrayBuffer();
      }
    }
    noErrorsLogged();
  });

  it('looks names up without a query when they cannot exist', async () => {
    expect(await t.forge.owners.findByName('al\u0000ice')).toBeNull();
    expect(await t.forge.owners.findByName('x'.repeat(10_000))).toBeNull();
    expect(await t.forge.owners.findByName('not a name')).toBeNull();
    expect(await t.forge.owners.verifyLogin('al\u0000ice', 'password-alice')).toBeNull();
    expect(await t.forge.owners.verifyLogin('alice\u0000@example.test', 'password-alice')).toBeNull();
  });
});

const TOKEN_PLACEHOLDER = '@@token@@';
