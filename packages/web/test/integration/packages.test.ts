import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { FormClient } from './form-client.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('package pages on %s', (kind) => {
  let t: TestServer;
  let alice: User;
  let aliceToken: string;

  const put = (owner: string, name: string, version: string, file: string, body: string, token = aliceToken, user = 'alice') =>
    fetch(`${t.url}/api/packages/${owner}/generic/${name}/${version}/${encodeURIComponent(file)}`, {
      method: 'PUT',
      body,
      headers: { authorization: basic(user, token) },
    });

  /** Adds a file through the registry itself: names any module might let through (e.g. file names inside a NAR). */
  async function addRaw(owner: User, name: string, version: string, file: string, body: string) {
    const staged = await t.forge.registry.stageBlob(Readable.from([Buffer.from(body)]));
    await t.forge.registry.createPackageAndAddFile({ ownerId: owner.id, type: 'generic', name, version, creatorId: owner.id, file: { name: file, blob: staged } });
  }

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    alice = await t.createUser('alice');
    aliceToken = await t.token(alice);
    await t.createUser('bob');
    await t.createUser('root', { admin: true });
    expect((await put('alice', 'tool', '1.0', 'tool-1.0.tar.gz', 'first tarball')).status).toBe(201);
    expect((await put('alice', 'tool', '1.0', 'README.md', '# tool')).status).toBe(201);
    expect((await put('alice', 'tool', '1.1', 'tool-1.1.tar.gz', 'second tarball!')).status).toBe(201);
    expect((await put('alice', 'other', '2.0', 'other.bin', 'x')).status).toBe(201);
  });
  afterAll(() => t?.close());

  it('lists every package of an owner, with search, type filter and the newest version', async () => {
    const c = new FormClient(t.url);
    const all = await c.page('/alice/-/packages');
    expect(all.res.status).toBe(200);
    expect(all.html).toContain('2 packages');
    expect(all.html).toContain('data-package="generic/tool"');
    expect(all.html).toContain('data-package="generic/other"');
    expect(all.html).toMatch(/data-package="generic\/tool".*?<span class="mono">1\.1<\/span>.*?2 versions/s);

    const search = await c.page('/alice/-/packages?q=TOO');
    expect(search.html).toContain('1 package');
    expect(search.html).toContain('data-package="generic/tool"');
    expect(search.html).not.toContain('data-package="generic/other"');
    expect(search.html).toContain('value="TOO"');

    const none = await c.page('/alice/-/packages?q=zzz');
    expect(none.html).toContain('No package matches');
    const typed = await c.page('/alice/-/packages?type=generic');
    expect(typed.html).toContain('2 packages');
    expect(typed.html).toContain('<option value="generic" selected>Generic</option>');
    // A LIKE pattern is matched literally.
    expect((await c.page('/alice/-/packages?q=%25')).html).toContain('No package matches');
  });

  it('pages through long lists', async () => {
    const many = await t.createUser('many');
    for (let i = 0; i < 23; i++) await addRaw(many, `pkg-${String(i).padStart(2, '0')}`, '1.0', 'f', 'x');
    const c = new FormClient(t.url);
    const first = await c.page('/many/-/packages');
    expect(first.html).toContain('23 packages');
    expect(first.html).toContain('data-package="generic/pkg-19"');
    expect(first.html).not.toContain('data-package="generic/pkg-20"');
    expect(first.html).toContain('href="/many/-/packages?page=2"');
    const second = await c.page('/many/-/packages?page=2');
    expect(second.html).toContain('data-package="generic/pkg-22"');
    expect(second.html).not.toContain('data-package="generic/pkg-00"');
    const filtered = await c.page('/many/-/packages?q=pkg&type=generic');
    expect(filtered.html).toContain('href="/many/-/packages?q=pkg&amp;type=generic&amp;page=2"');
  });

  it('shows a package with its versions and a version with the generic module’s view', async () => {
    const c = new FormClient(t.url);
    const pkg = await c.page('/alice/-/packages/generic/tool');
    expect(pkg.res.status).toBe(200);
    expect(pkg.html).toContain('href="/alice/-/packages/generic/tool/1.0"');
    expect(pkg.html).toContain('href="/alice/-/packages/generic/tool/1.1"');

    const version = await c.page('/alice/-/packages/generic/tool/1.0');
    expect(version.res.status).toBe(200);
    expect(version.html).toContain('data-file="tool-1.0.tar.gz"');
    expect(version.html).toContain('data-file="README.md"');
    const sha = (await t.forge.registry.listFiles((await t.forge.registry.getVersion((await t.forge.registry.getPackage(alice.id, 'generic', 'tool'))!.id, '1.0'))!.id))
      .find((f) => f.name === 'tool-1.0.tar.gz')!.sha256;
    expect(version.html).toContain(sha);
    expect(version.html).toContain('13 B'); // 'first tarball'
    expect(version.html).toContain(`curl -fLO ${t.url}/api/packages/alice/generic/tool/1.0/README.md`);
    expect(version.html).not.toContain('--upload-file'); // visitors cannot write
    const link = /<a href="([^"]+tool-1\.0\.tar\.gz)" download/.exec(version.html)![1];
    const download = await fetch(t.url + link);
    expect(await download.text()).toBe('first tarball');

    const owner = new FormClient(t.url);
    await owner.signIn('alice');
    expect((await owner.page('/alice/-/packages/generic/tool/1.0')).html).toContain('--upload-file');
  });

  it('answers 404 for packages and versions that do not exist', async () => {
    const c = new FormClient(t.url);
    for (const path of ['/alice/-/packages/generic/nope', '/alice/-/packages/generic/tool/9.9', '/alice/-/packages/nope/tool', '/nobody/-/packages']) {
      const res = await c.get(path);
      expect(res.status, path).toBe(404);
      expect(await res.text()).toContain('Page not found');
    }
  });

  it('escapes attacker-controlled names everywhere', async () => {
    const evil = await t.createUser('evil');
    await addRaw(evil, '<b>bold</b>', '"1.0<i>', '<script>alert(1)</script>', 'a');
    await addRaw(evil, '<b>bold</b>', '"1.0<i>', '"onmouseover=alert(2) x="', 'b');
    await addRaw(evil, 'plain', '1', `'><img src=x onerror=alert(3)>`, 'c');
    const c = new FormClient(t.url);
    const pages = [
      await c.page('/evil/-/packages'),
      await c.page('/evil/-/packages?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E'),
      await c.page(`/evil/-/packages/generic/${encodeURIComponent('<b>bold</b>')}`),
      await c.page(`/evil/-/packages/generic/${encodeURIComponent('<b>bold</b>')}/${encodeURIComponent('"1.0<i>')}`),
      await c.page('/evil/-/packages/generic/plain/1'),
    ];
    for (const { html, res, path } of pages) {
      expect(res.status, path).toBe(200);
      expect(html).not.toContain('<script>alert');
      expect(html).not.toContain('<b>bold');
      expect(html).not.toContain('<i>');
      expect(html).not.toContain('<img src=x');
      // Every quote of a name arrives as an entity, so no attribute is ever closed early.
      expect(html).not.toMatch(/[^;]"onmouseover/);
    }
    const version = pages[3].html;
    expect(version).toContain('&lt;script>alert(1)&lt;/script>');
    expect(version).toContain('data-file="&quot;onmouseover=alert(2) x=&quot;"');
    expect(version).toContain('href="/api/packages/evil/generic/%3Cb%3Ebold%3C%2Fb%3E/%221.0%3Ci%3E/%3Cscript%3Ealert(1)%3C%2Fscript%3E"');
    expect(pages[1].html).toContain('value="&lt;script>alert(1)&lt;/script>"');
    // Commands for the shell quote the URL.
    expect(pages[4].html).toContain(`curl -fLO '${t.url}/api/packages/evil/generic/plain/1/'\\''%3E%3Cimg%20src%3Dx%20onerror%3Dalert(3)%3E'`);
  });

  describe('private owners', () => {
    let priv: User;
    beforeAll(async () => {
      priv = await t.createUser('secretive', { visibility: 'private' });
      await addRaw(priv, 'hidden-tool', '1.0', 'file.bin', 'secret');
      const org = await t.forge.owners.createOrg({ name: 'closed', owner: priv, visibility: 'private' });
      const bob = (await t.forge.owners.findUser('bob'))!;
      await t.forge.owners.setMember(org, bob, 'read');
      const staged = await t.forge.registry.stageBlob(Readable.from([Buffer.from('org secret')]));
      await t.forge.registry.createPackageAndAddFile({ ownerId: org.id, type: 'generic', name: 'org-tool', version: '1.0', file: { name: 'f', blob: staged } });
    });

    const privatePages = [
      '/secretive',
      '/secretive/-/packages',
      '/secretive/-/packages?q=hidden',
      '/secretive/-/packages/generic/hidden-tool',
      '/secretive/-/packages/generic/hidden-tool/1.0',
      '/secretive/-/packages/generic/no-such-tool',
      '/secretive/-/settings',
      '/secretive/-/settings/packages',
    ];

    it('are 404 to anonymous visitors, exactly like owners that do not exist', async () => {
      const c = new FormClient(t.url);
      for (const path of privatePages) {
        const res = await c.get(path);
        expect(res.status, path).toBe(404);
        expect(res.headers.get('www-authenticate'), path).toBeNull();
        const html = await res.text();
        // (The page echoes only the address that was asked for, in its sign-in link.)
        expect(html.replace(/redirect_to=[^"]*/, ''), path).not.toContain('hidden-tool');
        const missing = await (await c.get(path.replace('secretive', 'nonexistent'))).text();
        expect(html.replace(/secretive/g, ''), path).toBe(missing.replace(/nonexistent/g, ''));
      }
    });

    it('are 404 to other users, and readable by the owner, members and site admins', async () => {
      const bob = new FormClient(t.url);
      await bob.signIn('bob');
      for (const path of privatePages) expect((await bob.get(path)).status, path).toBe(404);

      const owner = new FormClient(t.url);
      await owner.signIn('secretive');
      expect((await owner.page('/secretive/-/packages')).html).toContain('data-package="generic/hidden-tool"');
      expect((await owner.page('/secretive/-/packages/generic/hidden-tool/1.0')).html).toContain('--user USERNAME:TOKEN');
      const root = new FormClient(t.url);
      await root.signIn('root');
      expect((await root.get('/secretive/-/packages/generic/hidden-tool/1.0')).status).toBe(200);

      // bob reads the private organization he is a member of, but may not change it.
      const org = await bob.page('/closed/-/packages');
      expect(org.res.status).toBe(200);
      expect(org.html).toContain('data-package="generic/org-tool"');
      expect(org.html).not.toContain('href="/closed/-/settings"');
      expect((await bob.get('/closed/-/settings')).status).toBe(404);
      expect((await new FormClient(t.url).get('/closed/-/packages')).status).toBe(404);
    });

    it('are not listed on anyone else’s dashboard', async () => {
      const bob = new FormClient(t.url);
      await bob.signIn('bob');
      const home = await bob.page('/');
      expect(home.html).toContain('href="/closed/-/packages"'); // his own membership
      expect(home.html).not.toContain('secretive');
    });
  });
});
