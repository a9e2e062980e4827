import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { FormClient, csrfToken } from './form-client.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('UI sessions, CSRF and registration on %s', (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    await t.createUser('alice');
  });
  afterAll(() => t?.close());

  it('signs in with a signed, HttpOnly, SameSite=Lax session cookie and signs out', async () => {
    const c = new FormClient(t.url);
    const res = await c.signIn('alice');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const cookie = res.headers.getSetCookie().find((l) => l.startsWith('forge_session='))!;
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).toMatch(/Max-Age=604800/i);
    expect(cookie).not.toMatch(/Secure/i); // the test server's base URL is http

    const home = await c.page('/');
    expect(home.html).toContain('Signed in as <strong>alice</strong>');
    expect(home.html).toContain('Your namespaces');

    const out = await c.post('/user/logout', {}, { from: '/' });
    expect(out.status).toBe(303);
    expect(c.cookies.has('forge_session')).toBe(false);
    const after = await c.page('/user/settings/applications');
    expect(after.path).toBe('/user/login?redirect_to=%2Fuser%2Fsettings%2Fapplications');
  });

  it('goes back to the page that asked for a sign-in, and only to local pages', async () => {
    const c = new FormClient(t.url);
    const login = await c.page('/user/login?redirect_to=%2Fuser%2Fsettings%2Fapplications');
    const res = await c.post('/user/login?redirect_to=%2Fuser%2Fsettings%2Fapplications', { user_name: 'alice', password: 'password-alice' }, { csrf: csrfToken(login.html) });
    expect(res.headers.get('location')).toBe('/user/settings/applications');

    const evil = new FormClient(t.url);
    const page = await evil.page('/user/login');
    const off = await evil.post('/user/login?redirect_to=%2F%2Fevil.example%2F', { user_name: 'alice', password: 'password-alice' }, { csrf: csrfToken(page.html) });
    expect(off.headers.get('location')).toBe('/');
  });

  it('accepts the email address as the login name', async () => {
    const c = new FormClient(t.url);
    expect((await c.signIn('alice@example.test', 'password-alice')).status).toBe(303);
  });

  it('refuses a wrong password without a session and says so', async () => {
    const c = new FormClient(t.url);
    const res = await c.signIn('alice', 'wrong-password');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('The username or password is incorrect.');
    const home = await c.page('/');
    expect(home.html).not.toContain('Signed in as');
    const unknown = await c.signIn('nobody', 'whatever-password');
    expect(unknown.status).toBe(400);
  });

  it('refuses POSTs without or with a wrong CSRF token (403) and changes nothing', async () => {
    const c = new FormClient(t.url);
    // No session at all: even the sign-in form needs its token.
    const bare = await c.post('/user/login', { user_name: 'alice', password: 'password-alice' }, { csrf: null });
    expect(bare.status).toBe(403);
    expect(bare.headers.get('content-type')).toMatch(/text\/html/);
    expect(await bare.text()).toContain('CSRF');
    expect(c.cookies.has('forge_session')).toBe(false);

    await c.signIn('alice');
    const before = await t.forge.tokens.list((await t.forge.owners.findUser('alice'))!);
    const missing = await c.post('/user/settings/applications', { name: 'no-csrf', scopes: 'read:package' }, { csrf: null });
    expect(missing.status).toBe(403);
    const wrong = await c.post('/user/settings/applications', { name: 'bad-csrf', scopes: 'read:package' }, { csrf: 'A'.repeat(43) });
    expect(wrong.status).toBe(403);
    // A token from another session is no good either.
    const other = new FormClient(t.url);
    const otherToken = csrfToken((await other.page('/user/login')).html);
    const foreign = await c.post('/user/settings/applications', { name: 'foreign-csrf', scopes: 'read:package' }, { csrf: otherToken });
    expect(foreign.status).toBe(403);
    const visibility = await c.post('/alice/-/settings', { visibility: 'private' }, { csrf: null });
    expect(visibility.status).toBe(403);

    const after = await t.forge.tokens.list((await t.forge.owners.findUser('alice'))!);
    expect(after.map((x) => x.name)).toEqual(before.map((x) => x.name));
    expect((await t.forge.owners.findByName('alice'))!.visibility).toBe('public');
    // Sign-out is a form too.
    expect((await c.post('/user/logout', {}, { csrf: null })).status).toBe(403);
    expect((await c.page('/')).html).toContain('Signed in as');
  });

  it('ignores a forged or foreign session cookie', async () => {
    const c = new FormClient(t.url);
    await c.signIn('alice');
    const token = c.cookies.get('forge_session')!;
    const [header, payload] = token.split('.');
    const forged = new FormClient(t.url);
    forged.cookies.set('forge_session', `${header}.${payload}.${'x'.repeat(43)}`);
    expect((await forged.page('/')).html).not.toContain('Signed in as');
    const none = new FormClient(t.url);
    none.cookies.set('forge_session', `eyJhbGciOiJub25lIn0.${payload}.`);
    expect((await none.page('/')).html).not.toContain('Signed in as');
  });

  it('refuses forms that need a signed-in user to visitors with 403', async () => {
    const c = new FormClient(t.url);
    const res = await c.post('/org/create', { org_name: 'visitors-org' }, { from: '/user/login' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('Sign in first');
    expect(await t.forge.owners.findByName('visitors-org')).toBeNull();
  });

  it('never lets a token act in the UI: UI requests use the session only', async () => {
    const alice = (await t.forge.owners.findUser('alice'))!;
    const token = await t.token(alice, ['all']);
    const res = await fetch(`${t.url}/user/settings/applications`, { headers: { authorization: `token ${token}` }, redirect: 'manual' });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toMatch(/^\/user\/login/);
  });

  it('registers a user (first-come self-registration), signs them in, and refuses bad input', async () => {
    const c = new FormClient(t.url);
    const res = await c.post('/user/sign_up', { user_name: 'newbie', email: 'newbie@example.test', password: 'newbie-password', retype: 'newbie-password' });
    expect(res.status).toBe(303);
    const home = await c.page('/');
    expect(home.html).toContain('Signed in as <strong>newbie</strong>');
    expect(home.html).toContain('Welcome, newbie!');
    const user = await t.forge.owners.findUser('newbie');
    expect(user?.isAdmin).toBe(false); // not the first user of this server

    const d = new FormClient(t.url);
    const mismatch = await d.post('/user/sign_up', { user_name: 'x1', email: 'x1@example.test', password: 'password-1', retype: 'password-2' });
    expect(mismatch.status).toBe(400);
    expect(await mismatch.text()).toContain('The passwords do not match.');
    const taken = await d.post('/user/sign_up', { user_name: 'Alice', email: 'other@example.test', password: 'password-1', retype: 'password-1' });
    expect(taken.status).toBe(400);
    expect(await taken.text()).toContain('already taken');
    const reserved = await d.post('/user/sign_up', { user_name: 'api', email: 'api@example.test', password: 'password-1', retype: 'password-1' });
    expect(reserved.status).toBe(400);
    expect(await t.forge.owners.findUser('x1')).toBeNull();
  });

  it('serves its CSS and script itself, with long cache headers, and HTML error pages only outside /api/', async () => {
    const c = new FormClient(t.url);
    const { html, res } = await c.page('/');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const css = /href="(\/assets\/forge\.[0-9a-f]+\.css)"/.exec(html)![1];
    const js = /src="(\/assets\/forge\.[0-9a-f]+\.js)"/.exec(html)![1];
    for (const path of [css, js]) {
      const asset = await fetch(t.url + path);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    }
    expect(html).not.toMatch(/https?:\/\/(?!127\.0\.0\.1)/); // no CDN

    const page404 = await fetch(`${t.url}/no/such/page`);
    expect(page404.status).toBe(404);
    expect(page404.headers.get('content-type')).toMatch(/text\/html/);
    expect(await page404.text()).toContain('Page not found');
    const api404 = await fetch(`${t.url}/api/v1/nothing-here`);
    expect(api404.status).toBe(404);
    expect(api404.headers.get('content-type')).toMatch(/application\/json/);
    const pkg401 = await fetch(`${t.url}/api/packages/alice/generic/x/1.0/nothing`, { method: 'PUT', body: 'x' });
    expect(pkg401.status).toBe(401);
    expect(pkg401.headers.get('content-type')).toMatch(/text\/plain/);
  });
});

describe.each(kinds)('registration switched off on %s', (kind) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { disableRegistration: true } });
  });
  afterAll(() => t?.close());

  it('hides the link and refuses the form with 403', async () => {
    const c = new FormClient(t.url);
    const home = await c.page('/');
    expect(home.html).not.toContain('/user/sign_up');
    const get = await c.get('/user/sign_up');
    expect(get.status).toBe(403);
    expect(await get.text()).toContain('Registration is disabled');
    const post = await c.post('/user/sign_up', { user_name: 'sneaky', email: 's@example.test', password: 'password-1', retype: 'password-1' }, { from: '/user/login' });
    expect(post.status).toBe(403);
    expect(await t.forge.owners.findUser('sneaky')).toBeNull();
  });
});

describe('the first account', () => {
  it('does not become an administrator where FORGE_FIRST_SIGNUP_ADMIN is off (the default on a public base URL)', async () => {
    const t = await startTestServer({ db: 'pglite', config: { firstSignUpAdmin: false } });
    try {
      const c = new FormClient(t.url);
      const res = await c.post('/user/sign_up', { user_name: 'stranger', email: 's@example.test', password: 'stranger-password', retype: 'stranger-password' });
      expect(res.status).toBe(303);
      expect((await t.forge.owners.findUser('stranger'))?.isAdmin).toBe(false);
    } finally {
      await t.close();
    }
  });

  it('becomes the site administrator, as in Gitea, where FORGE_FIRST_SIGNUP_ADMIN allows it (the default on a loopback base URL)', async () => {
    const t = await startTestServer({ db: 'pglite' });
    try {
      const c = new FormClient(t.url);
      const res = await c.post('/user/sign_up', { user_name: 'founder', email: 'f@example.test', password: 'founder-password', retype: 'founder-password' });
      expect(res.status).toBe(303);
      expect((await t.forge.owners.findUser('founder'))?.isAdmin).toBe(true);
    } finally {
      await t.close();
    }
  });
});
