/**
 * Who sees the Nix pages and who may change things through them (PGlite and PostgreSQL):
 * 404 for those who may not read a cache (by the cache's visibility, not only the owner's),
 * the settings panel (enable, priority, visibility, keys, trusted keys) and the delete
 * forms, with CSRF refusals that change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { formatPublicKey, formatSecretKey, generateSigningKey, publicKeyOf } from '../../src/format/index.js';
import { CacheClient, makePath, type TestPath } from './support.js';
import { Browser, csrfToken, section, textOf } from './ui-support.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('Nix UI access and forms on %s', (kind) => {
  let t: TestServer;
  let users: Record<string, User>;
  const client: Record<string, CacheClient> = {};
  const browsers: Record<string, Browser> = {};
  let patPath: TestPath;
  let quinnPath: TestPath;

  const pages = (owner: string, p: TestPath) => {
    const base = `/${owner}/-/packages/nix/-/cache`;
    return [
      base,
      `${base}/paths`,
      `${base}/paths/${p.hashPart}`,
      `${base}/paths/${p.hashPart}/files`,
      `${base}/paths/${p.hashPart}/files/bin/tool`,
      `${base}/paths/${p.hashPart}/nar`,
      `${base}/paths/${p.hashPart}/delete`,
    ];
  };

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    users = {
      pat: await t.createUser('pat', { visibility: 'private' }),
      quinn: await t.createUser('quinn'),
      erin: await t.createUser('erin'),
      dora: await t.createUser('dora'),
      bob: await t.createUser('bob'),
      dave: await t.createUser('dave'),
      root: await t.createUser('root', { admin: true }),
    };
    for (const name of ['pat', 'quinn', 'erin', 'dora']) client[name] = new CacheClient(t, name, basic(name, await t.token(users[name]!)));
    patPath = makePath({ name: 'pat-secret-1.0' });
    quinnPath = makePath({ name: 'quinn-thing-1.0' });
    await client.pat!.push(patPath);
    await client.quinn!.push(quinnPath);
    await client.erin!.push(makePath({ name: 'erin-thing-1.0' }));
    for (const name of ['pat', 'quinn', 'erin', 'dora', 'bob', 'dave', 'root']) {
      browsers[name] = new Browser(t.url);
      await browsers[name]!.signIn(name);
    }
    browsers.anonymous = new Browser(t.url);
  });
  afterAll(() => t?.close());

  it("answers 404 on every page of a private owner's cache to visitors and other users", async () => {
    for (const who of ['anonymous', 'bob']) {
      for (const page of pages('pat', patPath)) expect((await browsers[who]!.page(page)).status, `${who} ${page}`).toBe(404);
    }
    for (const page of pages('pat', patPath)) expect((await browsers.pat!.page(page)).status, `pat ${page}`).toBe(200);
    for (const page of pages('pat', patPath).slice(0, 3)) expect((await browsers.root!.page(page)).status, `root ${page}`).toBe(200);
    // Byte for byte the 404 of an owner that does not exist (but for the sign-in link's way back).
    const hidden = await browsers.anonymous!.page('/pat/-/packages/nix/-/cache');
    const missing = await browsers.anonymous!.page('/nobody-at-all/-/packages/nix/-/cache');
    expect(hidden.html.replace('%2Fpat%2F', '%2FX%2F')).toBe(missing.html.replace('%2Fnobody-at-all%2F', '%2FX%2F'));
  });

  it('follows the cache visibility: a private cache of a public owner is hidden, a public one of a private owner is shown', async () => {
    expect((await client.quinn!.admin('settings', { method: 'PUT', json: { visibility: 'private' } })).status).toBe(200);
    for (const page of pages('quinn', quinnPath)) expect((await browsers.bob!.page(page)).status, `bob ${page}`).toBe(404);
    // The host's version page of a nix package: the module's view says 404 too.
    const version = `/quinn/-/packages/nix/quinn-thing/${quinnPath.baseName}`;
    expect((await browsers.anonymous!.page(version)).status).toBe(404);
    expect((await browsers.quinn!.page(version)).status).toBe(200);
    // No tab for those who may not read it.
    const packages = await browsers.anonymous!.page('/quinn/-/packages');
    expect(packages.status).toBe(200);
    expect(packages.html).not.toContain('>Nix cache</a>');
    expect((await browsers.quinn!.page('/quinn/-/packages')).html).toContain('>Nix cache</a>');

    expect((await client.pat!.admin('settings', { method: 'PUT', json: { visibility: 'public' } })).status).toBe(200);
    for (const page of pages('pat', patPath).slice(0, 6)) expect((await browsers.anonymous!.page(page)).status, `anonymous ${page}`).toBe(200);
    expect((await client.pat!.admin('settings', { method: 'PUT', json: { visibility: 'inherit' } })).status).toBe(200);
    expect((await browsers.anonymous!.page('/pat/-/packages/nix/-/cache')).status).toBe(404);
  });

  it('shows no cache page for an owner without a cache, except how to start one to writers', async () => {
    expect((await browsers.anonymous!.page('/dave/-/packages/nix/-/cache')).status).toBe(404);
    const own = await browsers.dave!.page('/dave/-/packages/nix/-/cache');
    expect(own.status).toBe(200);
    expect(textOf(own.html)).toContain('dave has no Nix cache yet');
    expect(own.html).not.toContain('>Nix cache</a>');
  });

  it('enables a cache from the settings panel, and refuses the form without a valid CSRF token', async () => {
    const settings = '/dave/-/settings/packages';
    const panel = await browsers.dave!.page(settings);
    expect(textOf(section(panel.html, 'nix-settings'))).toContain('Enable the Nix cache');
    const action = '/dave/-/settings/packages/nix';
    expect((await browsers.dave!.post(action, { action: 'enable' }, { csrf: null })).status).toBe(403);
    expect((await browsers.dave!.post(action, { action: 'enable' }, { csrf: 'x'.repeat(43) })).status).toBe(403);
    // Another session's token does not do either.
    expect((await browsers.dave!.post(action, { action: 'enable' }, { csrf: csrfToken((await browsers.bob!.page('/bob/-/settings/packages')).html) })).status).toBe(403);
    expect(await t.forge.db.dataSource.query('SELECT 1 FROM nix_cache WHERE owner_id = $1', [users.dave!.id])).toEqual([]);
    // Only those who administer the owner reach the panel.
    expect((await browsers.bob!.post(action, { action: 'enable' }, { from: '/bob/-/settings/packages' })).status).toBe(404);

    const done = await browsers.dave!.follow(await browsers.dave!.post(action, { action: 'enable' }, { from: settings }));
    expect(textOf(done.html)).toContain(`The Nix cache is enabled; it signs with 127.0.0.1-${t.port}-dave-1.`);
    expect(textOf(section(done.html, 'nix-keys'))).toMatch(/127\.0\.0\.1-\d+-dave-1 127\.0\.0\.1-\d+-dave-1:[A-Za-z0-9+/]{43}= Copy Active/);
    expect((await browsers.dave!.page('/dave/-/packages')).html).toContain('>Nix cache</a>');
  });

  it('saves priority and visibility', async () => {
    const b = browsers.erin!;
    const action = '/erin/-/settings/packages/nix';
    const from = '/erin/-/settings/packages';
    expect((await b.post(action, { action: 'save', priority: '30', visibility: 'private' }, { csrf: null })).status).toBe(403);
    expect((await t.forge.db.dataSource.query('SELECT priority FROM nix_cache WHERE owner_id = $1', [users.erin!.id]))[0].priority).not.toBe(30);

    const saved = await b.follow(await b.post(action, { action: 'save', priority: '30', visibility: 'private' }, { from }));
    expect(textOf(saved.html)).toContain('Nix cache settings saved.');
    expect(saved.html).toMatch(/name="visibility" value="private" checked/);
    expect(saved.html).toContain('value="30"');
    expect(await (await client.erin!.get('nix-cache-info')).text()).toContain('Priority: 30');
    expect((await browsers.anonymous!.page('/erin/-/packages/nix/-/cache')).status).toBe(404);

    const bad = await b.post(action, { action: 'save', priority: '-3', visibility: 'public' }, { from });
    expect(bad.status).toBe(400);
    expect(textOf(await bad.text())).toContain('Priority must be a whole number from 0 to 1000');
    const badVisibility = await b.post(action, { action: 'save', priority: '3', visibility: 'everyone' }, { from });
    expect(badVisibility.status).toBe(400);
  });

  it('rotates, imports and drops signing keys; the cache page trusts every key not dropped', async () => {
    const b = browsers.erin!;
    const action = '/erin/-/settings/packages/nix';
    const from = '/erin/-/settings/packages';
    const rotated = await b.follow(await b.post(action, { action: 'rotate' }, { from }));
    expect(textOf(rotated.html)).toContain(`127.0.0.1-${t.port}-erin-2 is the new signing key.`);
    const keys = textOf(section(rotated.html, 'nix-keys'));
    expect(keys).toMatch(/127\.0\.0\.1-\d+-erin-2 .* Active/);
    expect(keys).toMatch(/127\.0\.0\.1-\d+-erin-1 .* Retired/);
    const cachePage = await b.page('/erin/-/packages/nix/-/cache');
    const trusted = textOf(section(cachePage.html, 'snippet-nix-conf'));
    expect(trusted).toMatch(/extra-trusted-public-keys = 127\.0\.0\.1-\d+-erin-2:\S+ 127\.0\.0\.1-\d+-erin-1:\S+/);

    const own = generateSigningKey('erin.example-1');
    const imported = await b.follow(await b.post(action, { action: 'import', secretKey: formatSecretKey(own) }, { from }));
    expect(textOf(imported.html)).toContain('erin.example-1 is the new signing key.');
    expect(await client.erin!.publicKey()).toBe(formatPublicKey(publicKeyOf(own)));
    const notAKey = await b.post(action, { action: 'import', secretKey: 'nonsense' }, { from });
    expect(notAKey.status).toBe(400);
    expect(textOf(await notAKey.text())).toContain('Not a Nix secret key');

    const rows: Array<{ id: number; name: string }> = await t.forge.db.dataSource.query(
      `SELECT id, name FROM owner_key WHERE owner_id = $1 AND purpose = 'nix-cache' ORDER BY id`,
      [users.erin!.id],
    );
    const first = rows.find((r) => r.name === `127.0.0.1-${t.port}-erin-1`)!;
    expect((await b.post(action, { action: 'drop', key: String(first.id) }, { csrf: null })).status).toBe(403);
    const dropped = await b.follow(await b.post(action, { action: 'drop', key: String(first.id) }, { from }));
    expect(textOf(dropped.html)).toContain(`127.0.0.1-${t.port}-erin-1 was dropped`);
    expect(textOf(section(dropped.html, 'nix-keys'))).not.toContain(`127.0.0.1-${t.port}-erin-1`);
    const active = rows.find((r) => r.name === 'erin.example-1')!;
    const refused = await b.post(action, { action: 'drop', key: String(active.id) }, { from });
    expect(refused.status).toBe(400);
    expect(textOf(await refused.text())).toContain('The active key cannot be dropped');
    const page = await b.page('/erin/-/packages/nix/-/cache');
    expect(textOf(section(page.html, 'snippet-keys'))).not.toContain('erin-1');
  });

  it('adds and removes trusted uploader keys', async () => {
    const b = browsers.erin!;
    const action = '/erin/-/settings/packages/nix';
    const from = '/erin/-/settings/packages';
    const key = formatPublicKey(publicKeyOf(generateSigningKey('ci-1')));
    expect((await b.post(action, { action: 'trust', publicKey: key }, { csrf: null })).status).toBe(403);
    const added = await b.follow(await b.post(action, { action: 'trust', publicKey: key }, { from }));
    expect(textOf(section(added.html, 'nix-trusted'))).toContain(key);
    expect((await b.post(action, { action: 'trust', publicKey: key }, { from })).status).toBe(409);
    expect((await b.post(action, { action: 'trust', publicKey: 'ci-2:short' }, { from })).status).toBe(400);
    const removed = await b.follow(await b.post(action, { action: 'untrust', name: 'ci-1' }, { from }));
    expect(textOf(removed.html)).toContain('ci-1 is no longer trusted.');
    expect(textOf(removed.html)).toContain('No uploader key is trusted.');
    expect((await b.post(action, { action: 'untrust', name: 'ci-1' }, { from })).status).toBe(400);
  });

  it('offers cache.nixos.org as an upstream, adds it (refusing what the server does not allow) and removes it', async () => {
    const b = browsers.erin!;
    const action = '/erin/-/settings/packages/nix';
    const from = '/erin/-/settings/packages';
    const page = await b.page(from);
    const form = section(page.html, 'nix-upstream-add');
    expect(form).toContain('value="https://cache.nixos.org"');
    expect(form).toContain('cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=');
    const fields = { action: 'upstream-add', url: 'https://cache.nixos.org', publicKeys: 'cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=', mode: 'pull-through' };
    expect((await b.post(action, fields, { csrf: null })).status).toBe(403);
    expect((await b.post(action, { ...fields, url: 'http://10.0.0.1/' }, { from })).status).toBe(400);
    const added = await b.follow(await b.post(action, fields, { from }));
    expect(textOf(section(added.html, 'nix-upstreams'))).toContain('https://cache.nixos.org');
    expect(textOf(section(added.html, 'nix-upstreams'))).toContain('pull-through');
    expect((await b.post(action, fields, { from })).status).toBe(400);
    const api = (await (await client.erin!.admin('settings')).json()) as { upstreams: Array<{ url: string }> };
    expect(api.upstreams.map((u) => u.url)).toEqual(['https://cache.nixos.org']);
    const removed = await b.follow(await b.post(action, { action: 'upstream-remove', url: 'https://cache.nixos.org' }, { from }));
    expect(textOf(removed.html)).toContain('No upstream: every path of a pushed closure is stored here.');
  });

  describe('deleting store paths', () => {
    let lib: TestPath, tool: TestPath, app: TestPath, other: TestPath;
    const base = '/dora/-/packages/nix/-/cache';
    beforeAll(async () => {
      lib = makePath({ name: 'del-lib-1' });
      tool = makePath({ name: 'del-tool-1', references: [lib] });
      app = makePath({ name: 'del-app-1', references: [tool] });
      other = makePath({ name: 'del-other-1' });
      await client.dora!.push(lib, tool, app, other);
    });
    const exists = async (p: TestPath) => (await client.dora!.get(`${p.hashPart}.narinfo`)).status === 200;

    it('refuses without a CSRF token, and to those who may not write', async () => {
      const b = browsers.dora!;
      expect((await b.post(`${base}/paths/${other.hashPart}/delete`, {}, { csrf: null })).status).toBe(403);
      expect((await b.post(`${base}/paths/${other.hashPart}/delete`, {}, { csrf: 'forged' })).status).toBe(403);
      expect((await browsers.anonymous!.post(`${base}/paths/${other.hashPart}/delete`, {}, { csrf: null })).status).toBe(403);
      // Bob can read dora's public cache, not delete from it.
      expect((await browsers.bob!.page(`${base}/paths/${other.hashPart}/delete`)).status).toBe(403);
      expect((await browsers.bob!.post(`${base}/paths/${other.hashPart}/delete`, {}, { from: `${base}/paths/${other.hashPart}` })).status).toBe(403);
      expect(await exists(other)).toBe(true);
      // Only writers see the button.
      expect((await browsers.bob!.page(`${base}/paths/${other.hashPart}`)).html).not.toContain('id="danger-zone"');
      expect((await b.page(`${base}/paths/${other.hashPart}`)).html).toContain('id="danger-zone"');
    });

    it('asks first, then deletes a path nothing depends on', async () => {
      const b = browsers.dora!;
      const confirm = await b.page(`${base}/paths/${other.hashPart}/delete`);
      expect(confirm.status).toBe(200);
      expect(textOf(section(confirm.html, 'delete'))).toContain(`/nix/store/${other.baseName}`);
      expect(confirm.html).not.toContain('name="recursive"');
      const done = await b.follow(await b.post(`${base}/paths/${other.hashPart}/delete`, {}));
      expect(done.path).toBe(`${base}/paths`);
      expect(textOf(done.html)).toContain(`Deleted /nix/store/${other.baseName}.`);
      expect(await exists(other)).toBe(false);
      expect((await b.page(`${base}/paths/${other.hashPart}`)).status).toBe(404);
    });

    it('refuses to delete a path others depend on unless told to delete them too', async () => {
      const b = browsers.dora!;
      const confirm = await b.page(`${base}/paths/${lib.hashPart}/delete`);
      const dependents = textOf(section(confirm.html, 'dependents'));
      expect(dependents).toContain(tool.baseName);
      expect(dependents).toContain(app.baseName);
      expect(confirm.html).toContain('name="recursive"');
      const refused = await b.post(`${base}/paths/${lib.hashPart}/delete`, {});
      expect(refused.status).toBe(409);
      expect(textOf(await refused.text())).toContain('Nothing was deleted: other store paths depend on this one.');
      expect(await exists(lib)).toBe(true);

      const done = await b.follow(await b.post(`${base}/paths/${lib.hashPart}/delete`, { recursive: '1' }));
      expect(textOf(done.html)).toContain(`Deleted /nix/store/${lib.baseName} and 2 paths that depended on it.`);
      for (const p of [lib, tool, app]) expect(await exists(p)).toBe(false);
      expect((await client.dora!.get(`nar/${lib.fileName}`)).status).toBe(404);
    });
  });
});
