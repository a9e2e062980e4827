import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { defaultModules } from '@forge/server';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { FormClient } from './form-client.js';
import { probeModule, type ProbeRecord } from './probe-module.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('UI settings on %s', (kind) => {
  let t: TestServer;
  let alice: User;
  const record: ProbeRecord = { posts: [], publicNamespaces: new Set() };

  beforeAll(async () => {
    t = await startTestServer({ db: kind, modules: [...defaultModules(), probeModule(record)] });
    alice = await t.createUser('alice');
    await t.createUser('bob');
    await t.createUser('carol');
    await t.createUser('root', { admin: true });
  });
  afterAll(() => t?.close());

  const signedIn = async (name: string) => {
    const c = new FormClient(t.url);
    expect((await c.signIn(name)).status).toBe(303);
    return c;
  };
  const upload = (owner: string, token: string, file = `f-${Math.random().toString(36).slice(2)}`) =>
    fetch(`${t.url}/api/packages/${owner}/generic/tool/1.0/${file}`, { method: 'PUT', body: 'data', headers: { authorization: basic('alice', token) } });

  describe('access tokens', () => {
    it('creates a token with scopes and expiry, shows it once, lists it, and the token works', async () => {
      const c = await signedIn('alice');
      const empty = await c.page('/user/settings/applications');
      expect(empty.html).toContain('No access tokens yet');

      const res = await c.post('/user/settings/applications', { name: 'laptop', scopes: ['read:package', 'write:package'], expires_at: '2999-12-31' });
      expect(res.status).toBe(200);
      const html = await res.text();
      const token = /<code>([0-9a-f]{40})<\/code>/.exec(html)?.[1];
      expect(token).toBeDefined();
      expect(html).toContain('it is shown only once');
      expect(res.headers.get('cache-control')).toBe('no-store');

      expect((await upload('alice', token!)).status).toBe(201);

      const list = await c.page('/user/settings/applications');
      expect(list.html).not.toContain(token!); // never shown again
      expect(list.html).toContain('data-token="laptop"');
      expect(list.html).toContain('…' + token!.slice(-8));
      expect(list.html).toContain('read:package');
      expect(list.html).toContain('write:package');
      expect(list.html).toContain('2999-12-31');
      const info = (await t.forge.tokens.list(alice)).find((x) => x.name === 'laptop')!;
      expect(info.scopes).toEqual(['read:package', 'write:package']);
      expect(info.expiresAt?.toISOString()).toBe('2999-12-31T23:59:59.999Z');
      // The last use is written in the background.
      await expect.poll(async () => (await t.forge.tokens.list(alice)).find((x) => x.name === 'laptop')?.lastUsedAt).toBeTruthy();
      const used = await c.page('/user/settings/applications');
      const row = /data-token="laptop">(.*?)<\/tr>/s.exec(used.html)![1];
      expect(row).not.toContain('Never'); // last used: a time; expires: a date
      expect(row).toContain('<time');
    });

    it('re-shows the form with the error for bad input', async () => {
      const c = await signedIn('alice');
      const noScope = await c.post('/user/settings/applications', { name: 'x' }, { from: '/user/settings/applications' });
      expect(noScope.status).toBe(400);
      expect(await noScope.text()).toContain('Choose at least one scope.');
      const duplicate = await c.post('/user/settings/applications', { name: 'laptop', scopes: 'read:package' });
      expect(duplicate.status).toBe(400);
      expect(await duplicate.text()).toContain('already exists');
      const past = await c.post('/user/settings/applications', { name: 'old', scopes: 'read:package', expires_at: '2001-01-01' });
      expect(past.status).toBe(400);
      expect(await past.text()).toContain('The expiry must be in the future.');
      expect((await t.forge.tokens.list(alice)).map((x) => x.name)).toEqual(['laptop']);
    });

    it('revokes a token from the list; the token stops working at once', async () => {
      const c = await signedIn('alice');
      const res = await c.post('/user/settings/applications', { name: 'short-lived', scopes: 'write:package' });
      const token = /<code>([0-9a-f]{40})<\/code>/.exec(await res.text())![1];
      expect((await upload('alice', token)).status).toBe(201);
      const id = (await t.forge.tokens.list(alice)).find((x) => x.name === 'short-lived')!.id;

      // Someone else cannot revoke it, even with a valid form of their own.
      const bob = await signedIn('bob');
      const foreign = await bob.post('/user/settings/applications/delete', { id: String(id) }, { from: '/user/settings/applications' });
      expect(foreign.status).toBe(404);
      expect((await upload('alice', token)).status).toBe(201);

      const revoke = await c.post('/user/settings/applications/delete', { id: String(id) }, { from: '/user/settings/applications' });
      expect(revoke.status).toBe(303);
      const after = await c.page('/user/settings/applications');
      expect(after.html).toContain('The token “short-lived” was revoked.');
      expect(after.html).not.toContain('data-token="short-lived"');
      expect((await upload('alice', token)).status).toBe(401);
    });

    it('sends visitors to the sign-in page', async () => {
      const res = await new FormClient(t.url).get('/user/settings/applications');
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/user/login?redirect_to=%2Fuser%2Fsettings%2Fapplications');
    });
  });

  describe('owner settings', () => {
    it('lets the owner make their namespace private and public again', async () => {
      const c = await signedIn('carol');
      const page = await c.page('/carol/-/settings');
      expect(page.res.status).toBe(200);
      expect(page.html).toContain('Visibility');
      const res = await c.post('/carol/-/settings', { visibility: 'private' });
      expect(res.status).toBe(303);
      expect((await t.forge.owners.findByName('carol'))!.visibility).toBe('private');
      expect((await new FormClient(t.url).get('/carol/-/packages')).status).toBe(404);
      expect((await c.page('/carol/-/packages')).res.status).toBe(200);
      await c.post('/carol/-/settings', { visibility: 'public' });
      expect((await new FormClient(t.url).get('/carol/-/packages')).status).toBe(200);
    });

    it('shows settings only to those who administer the owner (404 for everyone else)', async () => {
      const bob = await signedIn('bob');
      for (const path of ['/alice/-/settings', '/alice/-/settings/packages']) {
        expect((await bob.get(path)).status, path).toBe(404);
        expect((await new FormClient(t.url).get(path)).status, path).toBe(404);
      }
      const forged = await bob.post('/alice/-/settings', { visibility: 'private' }, { from: '/' });
      expect(forged.status).toBe(404);
      expect((await t.forge.owners.findByName('alice'))!.visibility).toBe('public');
      const root = await signedIn('root');
      expect((await root.get('/alice/-/settings')).status).toBe(200);
    });

    it('manages an organization’s members and roles', async () => {
      const alice = await signedIn('alice');
      const created = await alice.post('/org/create', { org_name: 'team', visibility: 'public' });
      expect(created.status).toBe(303);
      expect(created.headers.get('location')).toBe('/team/-/packages');
      const members = await alice.page('/team/-/settings/members');
      expect(members.html).toContain('data-member="alice"');

      expect((await alice.post('/team/-/settings/members/add', { user: 'bob', role: 'read' })).status).toBe(303);
      const team = (await t.forge.owners.findByName('team'))!;
      const bobUser = (await t.forge.owners.findUser('bob'))!;
      expect(await t.forge.owners.roleIn(team.id, bobUser.id)).toBe('read');

      const unknown = await alice.post('/team/-/settings/members/add', { user: 'nobody', role: 'read' });
      expect(unknown.status).toBe(400);
      expect(await unknown.text()).toContain('There is no user “nobody”.');

      // A read member sees the packages but not the settings.
      const bob = await signedIn('bob');
      expect((await bob.get('/team/-/packages')).status).toBe(200);
      expect((await bob.get('/team/-/settings/members')).status).toBe(404);
      expect((await bob.post('/team/-/settings/members/role', { user: 'bob', role: 'admin' }, { from: '/' })).status).toBe(404);

      expect((await alice.post('/team/-/settings/members/role', { user: 'bob', role: 'write' })).status).toBe(303);
      expect(await t.forge.owners.roleIn(team.id, bobUser.id)).toBe('write');

      // The last admin cannot step down.
      const demote = await alice.post('/team/-/settings/members/role', { user: 'alice', role: 'read' }, { from: '/team/-/settings/members' });
      expect(demote.status).toBe(400);
      expect(await demote.text()).toContain('at least one admin');

      expect((await alice.post('/team/-/settings/members/remove', { user: 'bob' })).status).toBe(303);
      expect(await t.forge.owners.roleIn(team.id, bobUser.id)).toBeNull();
      // Users have no members page.
      expect((await alice.get('/alice/-/settings/members')).status).toBe(404);
    });

    it('renders every module’s settings panel and routes its POSTs to handlePost after CSRF and admin checks', async () => {
      const alice = await signedIn('alice');
      const page = await alice.page('/alice/-/settings/packages');
      expect(page.html).toContain('id="panel-probe"');
      expect(page.html).toContain('id="probe-settings"');
      expect(page.html).toContain('Storage');

      const ok = await alice.post('/alice/-/settings/packages/probe', { setting: 'on' }, { from: '/alice/-/settings/packages' });
      expect(ok.status).toBe(303);
      expect(ok.headers.get('location')).toBe('/alice/-/settings/packages#panel-probe');
      expect(record.posts.at(-1)).toMatchObject({ owner: 'alice', canAdmin: true, body: { setting: 'on' } });
      expect((await alice.page('/alice/-/settings/packages')).html).toContain('Probe saved: on');

      const count = record.posts.length;
      const bad = await alice.post('/alice/-/settings/packages/probe', { setting: 'bad' }, { from: '/alice/-/settings/packages' });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('The probe setting is bad');
      expect((await alice.post('/alice/-/settings/packages/probe', { setting: 'x' }, { csrf: null })).status).toBe(403);
      const bob = await signedIn('bob');
      expect((await bob.post('/alice/-/settings/packages/probe', { setting: 'x' }, { from: '/' })).status).toBe(404);
      expect((await alice.post('/alice/-/settings/packages/nope', { setting: 'x' }, { from: '/' })).status).toBe(404);
      expect(record.posts.length).toBe(count);
    });
  });

  describe('the storage card', () => {
    it('says how many packages there are and the space they take, a shared file counted once', async () => {
      const sam = await t.createUser('sam');
      const token = await t.token(sam);
      const body = 'x'.repeat(3000);
      for (const [pkg, v] of [['tool', '1.0'], ['tool', '1.1'], ['other', '1.0']]) {
        const res = await fetch(`${t.url}/api/packages/sam/generic/${pkg}/${v}/file.bin`, { method: 'PUT', body, headers: { authorization: basic('sam', token) } });
        expect(res.status).toBe(201);
      }
      const page = await (await signedIn('sam')).page('/sam/-/settings/packages');
      const card = /<dl class="kv" id="storage-usage">([\s\S]*?)<\/dl>/.exec(page.html)![1]!.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
      // Two packages (three versions, three files, one blob): 3000 bytes, not 9000, and no blob or file counts.
      expect(card).toMatch(/Packages 2 Space used 2\.9 KiB/);
      expect(card).not.toMatch(/Files \d|Referenced|blob/i);
    });
  });

  describe('module pages', () => {
    it('mounts module pages under /{owner}/-/packages/{type}/-/ with the host layout, tabs, CSRF and assets', async () => {
      await t.createUser('tabby');
      const tabby = await signedIn('tabby');
      const page = await tabby.page('/tabby/-/packages/probe/-/overview');
      expect(page.res.status).toBe(200);
      expect(page.html).toContain('Probe overview of tabby');
      expect(page.html).toContain('write=true admin=true via=session');
      expect(page.html).toContain('class="owner-header"');
      expect(page.html).toMatch(/<a href="\/tabby\/-\/packages\/probe\/-\/overview" class="tab active"[^>]*>Probe tab<\/a>/);
      // Other owners do not get the tab.
      expect((await tabby.page('/alice/-/packages')).html).not.toContain('Probe tab');

      const posted = await tabby.post('/tabby/-/packages/probe/-/action', { n: '1' }, { from: '/tabby/-/packages/probe/-/overview' });
      expect(posted.status).toBe(303);
      expect((await tabby.page('/tabby/-/packages/probe/-/overview')).html).toContain('Probe action done.');
      const count = record.posts.length;
      expect((await tabby.post('/tabby/-/packages/probe/-/action', { n: '2' }, { csrf: null })).status).toBe(403);
      expect(record.posts.length).toBe(count);

      const css = /href="(\/assets\/forge\.[0-9a-f]+\.css)"/.exec(page.html)![1];
      expect(await (await fetch(t.url + css)).text()).toContain('.probe-marker');

      const anonymous = await new FormClient(t.url).page('/tabby/-/packages/probe/-/overview');
      expect(anonymous.html).toContain('write=false admin=false via=anonymous');
      expect(anonymous.res.headers.getSetCookie()).toEqual([]); // reading needs no session
    });

    it('answers 404 for private owners, unless the module makes its namespace public', async () => {
      await t.createUser('hidden', { visibility: 'private' });
      const anonymous = new FormClient(t.url);
      expect((await anonymous.get('/hidden/-/packages/probe/-/overview')).status).toBe(404);
      expect((await (await signedIn('bob')).get('/hidden/-/packages/probe/-/overview')).status).toBe(404);
      record.publicNamespaces.add('hidden');
      expect((await anonymous.get('/hidden/-/packages/probe/-/overview')).status).toBe(200);
      // The owner's own package list stays private.
      expect((await anonymous.get('/hidden/-/packages')).status).toBe(404);
    });

    it('shows a module page that fails as an HTML 500 page, without details', async () => {
      const res = await new FormClient(t.url).get('/alice/-/packages/probe/-/broken');
      expect(res.status).toBe(500);
      const html = await res.text();
      expect(html).toContain('Something went wrong');
      expect(html).not.toContain('exploded');
    });
  });
});
