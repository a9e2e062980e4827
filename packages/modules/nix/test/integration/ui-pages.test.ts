/**
 * The Nix cache's web pages on a real server (PGlite and PostgreSQL): the cache page and
 * its snippets and figures, the store path list, a store path's page with its files,
 * signatures, references, referrers and build log, file contents read from none/xz/zstd
 * NARs, the version view, and hostile names shown escaped.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { formatPublicKey, generateSigningKey, publicKeyOf, signPath, writeNar, type NarTree } from '../../src/format/index.js';
import { readNarFile } from '../../src/cache/nar-contents.js';
import { CacheClient, makePath, randomHashPart, withInfo, type TestPath } from './support.js';
import { Browser, section, textOf } from './ui-support.js';

const kinds = await testDatabaseKinds();

const text = (s: string) => ({ type: 'regular' as const, contents: s });
const dir = (entries: Record<string, NarTree>) => ({ type: 'directory' as const, entries });

/** The only script tag a page may have is the server's own, by address. */
function expectNoInjectedMarkup(html: string): void {
  const scripts = html.match(/<script\b[^>]*>/g) ?? [];
  expect(scripts).toHaveLength(1);
  expect(scripts[0]).toMatch(/^<script src="\/assets\/forge\.[0-9a-f]+\.js" defer>$/);
  expect(html).not.toMatch(/<img\b/i);
  expect(html).not.toContain('"onmouseover=');
  // No tag carries an event handler attribute (text that merely reads `onerror=` is fine).
  expect(html).not.toMatch(/<[a-z][^>]*\son[a-z]+\s*=/i);
}

describe.each(kinds)('Nix cache pages on %s', (kind) => {
  let t: TestServer;
  let alice: User;
  let cache: CacheClient;
  let lib: TestPath, tool: TestPath, app: TestPath, hostile: TestPath, dupA: TestPath, dupB: TestPath;
  const uploaderKey = generateSigningKey('uploader-1');
  const strangerKey = generateSigningKey('stranger-1');
  const toolDrv = `${randomHashPart()}-ui-tool-2.1.drv`;
  const hostileDrv = `${randomHashPart()}-ui-hostile-1.drv`;
  const bigText = Array.from({ length: 12_000 }, (_, i) => `line ${i} ${'lorem ipsum '.repeat(2)}`).join('\n');
  const base = '/alice/-/packages/nix/-/cache';

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    alice = await t.createUser('alice');
    await t.createUser('bob');
    cache = new CacheClient(t, 'alice', basic('alice', await t.token(alice)));

    lib = makePath({
      name: 'ui-lib-1.0',
      compression: 'zstd',
      tree: dir({
        lib: dir({ 'libui.so': { type: 'regular', contents: Buffer.concat([Buffer.from('\x7fELF\x02\x01\x01\0\0\0'), randomBytes(300)]) } }),
        share: dir({ doc: dir({ README: text('The ui library.\nSecond line: <b>not bold</b>\n') }) }),
      }),
    });
    tool = makePath({
      name: 'ui-tool-2.1',
      compression: 'xz',
      references: [lib],
      deriver: toolDrv,
      tree: dir({
        bin: dir({ tool: { type: 'regular', executable: true, contents: '#!/bin/sh\necho "tool 2.1"\n' } }),
        etc: dir({ 'tool.conf': text('# tool configuration\ncolour = blue\n') }),
        'readme-link': { type: 'symlink', target: `/nix/store/${lib.baseName}/share/doc/README` },
        'local-link': { type: 'symlink', target: 'etc/tool.conf' },
        'dangling-link': { type: 'symlink', target: '../nowhere' },
      }),
    });
    tool = withInfo(tool, { sigs: [signPath(tool.info, uploaderKey)] });
    app = makePath({
      name: 'ui-app-3.0',
      compression: 'none',
      references: [tool, lib],
      selfReference: true,
      tree: dir({ 'notes.txt': text('Notes for the app.\n'), 'big.txt': text(bigText), empty: text('') }),
    });
    app = withInfo(app, { sigs: [signPath(app.info, strangerKey)] });
    hostile = makePath({
      name: 'ui-hostile-1',
      compression: 'zstd',
      deriver: hostileDrv,
      tree: dir({
        // A file whose path inside the NAR is `<script>alert(1)</script>`.
        '<script>alert(1)<': dir({ 'script>': text('<script>alert("contents")</script>\n') }),
        '"onmouseover=alert(1) x="': text('"><img src=x onerror=alert(1)>\n'),
        "it's & <fine>": text('ok\n'),
        'evil-link': { type: 'symlink', target: '"><img src=x onerror=alert(2)>' },
      }),
    });
    const shared = writeNar(dir({ 'same.txt': text('identical contents\n'.repeat(200)) }));
    dupA = makePath({ name: 'ui-dup-a', compression: 'xz', nar: shared });
    dupB = makePath({ name: 'ui-dup-b', compression: 'xz', nar: shared });

    expect((await cache.admin('trusted-keys', { method: 'POST', body: formatPublicKey(publicKeyOf(uploaderKey)) })).status).toBe(201);
    await cache.push(lib, tool, app, hostile, dupA, dupB);
    expect((await cache.put(`log/${toolDrv}`, '\u001b[1mbuilding\u001b[0m ui-tool\n<script>alert("log")</script>\ndone\n', 'text/plain')).status).toBe(201);
    expect(
      (await cache.put(`log/${hostileDrv}`, gzipSync('compressed log with <img src=x onerror=alert(3)>\n'), 'text/plain', { 'content-encoding': 'gzip' })).status,
    ).toBe(201);
  });
  afterAll(() => t?.close());

  it('shows the cache page: snippets with the server key, figures and recent pushes', async () => {
    const b = new Browser(t.url);
    const { status, html, res } = await b.page(base);
    expect(status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const key = await cache.publicKey();
    const url = `${t.url}/api/packages/alice/nix`;
    const page = textOf(html);
    expect(page).toContain(`extra-substituters = ${url}`);
    expect(page).toContain(`extra-trusted-public-keys = ${key}`);
    // A public cache: no netrc-file; the netrc line (for pushing) has a login, a placeholder for a visitor.
    expect(page).not.toContain('netrc-file');
    expect(page).toContain('machine 127.0.0.1 login YOUR_USER_NAME password YOUR_TOKEN');
    expect(page).toContain(`substituters = [ "${url}" ];`);
    expect(page).toContain(`"${key}"`);
    expect(page).toContain(`nix copy --to ${url} ./result`);
    expect(html).toContain('href="/user/settings/applications"');
    // Copy buttons carry exactly the snippet.
    expect(section(html, 'snippet-keys')).toContain(`data-copy="${key}"`);

    const figures = textOf(section(html, 'cache-figures'));
    expect(figures).toContain('Store paths 6');
    // Two paths share one NAR file: what dedupe saved is that file's size.
    expect(section(html, 'cache-figures')).toContain(`title="${dupA.file.length.toLocaleString('en')} bytes"`);
    const narBytes = [lib, tool, app, hostile, dupA, dupB].reduce((s, p) => s + p.nar.length, 0);
    expect(section(html, 'cache-figures')).toContain(`title="${narBytes.toLocaleString('en')} bytes"`);
    expect(figures).toMatch(/Last push just now/);
    expect(textOf(section(html, 'recent-paths'))).toContain('ui-dup-b');

    // The owner's tab leads here.
    const packages = await b.page('/alice/-/packages');
    expect(packages.html).toContain(`href="${base}"`);
    expect(packages.html).toContain('>Nix cache</a>');
  });

  it('lists store paths: search by name and hash prefix, sorts, jumps to a pasted store path', async () => {
    const b = new Browser(t.url);
    const all = await b.page(`${base}/paths`);
    expect(all.status).toBe(200);
    expect(textOf(all.html)).toContain('6 store paths');
    expect((all.html.match(/<tr data-hash=/g) ?? []).length).toBe(6);

    const byName = await b.page(`${base}/paths?q=UI-TO`);
    expect(byName.html).toContain(`data-hash="${tool.hashPart}"`);
    expect((byName.html.match(/<tr data-hash=/g) ?? []).length).toBe(1);

    const byHash = await b.page(`${base}/paths?q=${lib.hashPart.slice(0, 7)}`);
    expect(byHash.html).toContain(`data-hash="${lib.hashPart}"`);

    const none = await b.page(`${base}/paths?q=${encodeURIComponent('%_')}`);
    expect(textOf(none.html)).toContain('No store path matches');

    const bySize = await b.page(`${base}/paths?sort=size`);
    expect(bySize.html.indexOf(`data-hash="${app.hashPart}"`)).toBeLessThan(bySize.html.indexOf(`data-hash="${lib.hashPart}"`));
    const byNameSort = await b.page(`${base}/paths?sort=name`);
    const order = [app, dupA, dupB, hostile, lib, tool].map((p) => byNameSort.html.indexOf(`data-hash="${p.hashPart}"`));
    expect([...order].sort((x, y) => x - y)).toEqual(order);

    const pasted = await b.request(`${base}/paths?q=${encodeURIComponent(`/nix/store/${tool.baseName}/bin/tool`)}`);
    expect(pasted.status).toBe(303);
    expect(pasted.headers.get('location')).toBe(`${base}/paths/${tool.hashPart}`);
  });

  it("shows a store path's narinfo fields, signatures, references, referrers, closure, files and build log", async () => {
    const b = new Browser(t.url);
    const { status, html } = await b.page(`${base}/paths/${tool.hashPart}`);
    expect(status).toBe(200);
    const fields = textOf(section(html, 'narinfo-fields'));
    expect(fields).toContain(`StorePath /nix/store/${tool.baseName}`);
    expect(fields).toContain(`URL ${tool.url}`);
    expect(fields).toContain('Compression xz');
    expect(fields).toContain(`FileSize`);
    expect(fields).toContain(`(${tool.file.length.toLocaleString('en')} bytes)`);
    expect(fields).toContain(`(${tool.nar.length.toLocaleString('en')} bytes)`);
    expect(fields).toContain(`Deriver ${toolDrv}`);
    expect(textOf(section(html, 'narinfo-raw'))).toContain(`StorePath: /nix/store/${tool.baseName}`);

    const key = (await cache.publicKey()).split(':')[0]!;
    const sigs = section(html, 'signatures');
    expect(textOf(sigs)).toMatch(new RegExp(`${key.replace(/\./g, '\\.')} Server key active`));
    expect(textOf(sigs)).toContain('uploader-1 Uploader key trusted');

    const appPage = await b.page(`${base}/paths/${app.hashPart}`);
    expect(textOf(section(appPage.html, 'signatures'))).toContain('stranger-1 Uploader key not trusted');
    const refs = section(appPage.html, 'references');
    expect(refs).toContain(`href="${base}/paths/${tool.hashPart}"`);
    expect(refs).toContain(`href="${base}/paths/${lib.hashPart}"`);
    expect(textOf(refs)).toContain('References (2)');
    expect(textOf(section(appPage.html, 'closure'))).toContain('Paths 3');
    expect(textOf(section(appPage.html, 'narinfo-fields'))).toContain('References 3 (including itself)');

    const libPage = await b.page(`${base}/paths/${lib.hashPart}`);
    const referrers = section(libPage.html, 'referrers');
    expect(textOf(referrers)).toContain('Referrers (2)');
    expect(referrers).toContain(`href="${base}/paths/${tool.hashPart}"`);
    expect(referrers).toContain(`href="${base}/paths/${app.hashPart}"`);

    // Files: mode, executable bit, symlink targets, sizes.
    const files = section(html, 'file-tree');
    expect(files).toMatch(/data-entry="bin" data-type="directory"/);
    expect(textOf(files)).toContain(`readme-link → /nix/store/${lib.baseName}/share/doc/README`);
    expect(textOf(files)).toContain('lrwxrwxrwx');
    expect(html).toContain(`href="${base}/paths/${tool.hashPart}/log"`);
    expect(html).toContain(`href="${base}/paths/${tool.hashPart}/nar"`);

    // The base name works as an address too; anything else is 404.
    expect((await b.page(`${base}/paths/${tool.baseName}`)).status).toBe(200);
    expect((await b.page(`${base}/paths/${randomHashPart()}`)).status).toBe(404);
    expect((await b.page(`${base}/paths/not-a-hash`)).status).toBe(404);
  });

  it('browses directories and follows symlinks inside and across store paths', async () => {
    const b = new Browser(t.url);
    const bin = await b.page(`${base}/paths/${tool.hashPart}/files/bin`);
    expect(bin.status).toBe(200);
    const row = section(bin.html, 'file-tree');
    expect(row).toMatch(/data-entry="tool" data-type="regular"/);
    expect(textOf(row)).toContain('-r-xr-xr-x');
    expect(textOf(row)).toContain('executable');
    expect(textOf(section(bin.html, 'file-crumbs'))).toContain(`/nix/store/${tool.baseName} / bin`);

    const across = await b.page(`${base}/paths/${tool.hashPart}/files/readme-link`);
    expect(section(across.html, 'link-target')).toContain(`href="${base}/paths/${lib.hashPart}/files/share/doc/README"`);
    const inside = await b.page(`${base}/paths/${tool.hashPart}/files/local-link`);
    expect(section(inside.html, 'link-target')).toContain(`href="${base}/paths/${tool.hashPart}/files/etc/tool.conf"`);
    const dangling = await b.page(`${base}/paths/${tool.hashPart}/files/dangling-link`);
    expect(section(dangling.html, 'link-target')).not.toContain('href=');

    expect((await b.page(`${base}/paths/${tool.hashPart}/files/nope`)).status).toBe(404);
    expect((await b.page(`${base}/paths/${tool.hashPart}/files/bin/tool/deeper`)).status).toBe(404);
  });

  it.each([
    ['none', () => app, 'notes.txt', 'Notes for the app.'],
    ['xz', () => tool, 'etc/tool.conf', 'colour = blue'],
    ['zstd', () => lib, 'share/doc/README', 'Second line: <b>not bold</b>'],
  ] as const)('shows a text file from a %s NAR', async (_compression, which, file, expected) => {
    const b = new Browser(t.url);
    const { status, html } = await b.page(`${base}/paths/${which().hashPart}/files/${file}`);
    expect(status).toBe(200);
    const content = section(html, 'file-content');
    expect(textOf(content)).toContain(expected);
    expect(content).not.toContain('<b>');
  });

  it('shows binary files as hex, empty files as empty, and caps long ones', async () => {
    const b = new Browser(t.url);
    const binary = await b.page(`${base}/paths/${lib.hashPart}/files/lib/libui.so`);
    expect(textOf(binary.html)).toContain('This is a binary file');
    expect(textOf(section(binary.html, 'file-hex'))).toContain('00000000 7f 45 4c 46 02 01 01 00 00 00 ');
    const empty = await b.page(`${base}/paths/${app.hashPart}/files/empty`);
    expect(textOf(empty.html)).toContain('This file is empty.');
    const big = await b.page(`${base}/paths/${app.hashPart}/files/big.txt`);
    expect(textOf(big.html)).toMatch(/Showing the first 5,000 lines of \d/);
    expect(textOf(section(big.html, 'file-content'))).toContain('line 4999 ');
    expect(textOf(section(big.html, 'file-content'))).not.toContain('line 5000 ');
  });

  it('reads a file from a compressed NAR without decompressing all of it', async () => {
    const random = randomBytes(1024 * 1024).toString('hex'); // 2 MiB that xz cannot shrink much
    const p = makePath({ name: 'ui-partial', compression: 'xz', tree: dir({ 'a-first.txt': text('the first file\n'), 'z-last.bin': text(random) }) });
    await cache.push(p);
    const nar = await t.forge.registry.getOwnerFile(alice.id, 'nix', `nar/${p.fileName}`);
    const listing = (await (await cache.get(`${p.hashPart}.ls`)).json()) as { root: { entries: Record<string, { narOffset: number; size: number }> } };
    const entry = listing.root.entries['a-first.txt']!;
    const read = await readNarFile(t.forge.registry, { sha256: nar!.sha256, compression: 'xz' }, { path: 'a-first.txt', ...entry }, 1024);
    expect(read.bytes.toString()).toBe('the first file\n');
    expect(read.narBytesRead).toBeLessThan(p.nar.length / 4);
    // Without an offset (an old listing) the NAR parser finds the file by its path.
    const parsed = await readNarFile(t.forge.registry, { sha256: nar!.sha256, compression: 'xz' }, { path: 'a-first.txt', size: entry.size }, 1024);
    expect(parsed.bytes.toString()).toBe('the first file\n');
    expect(parsed.narBytesRead).toBeLessThan(p.nar.length / 4);
    // The last file: all of the NAR up to it, capped.
    const last = await readNarFile(t.forge.registry, { sha256: nar!.sha256, compression: 'xz' }, { path: 'z-last.bin', ...listing.root.entries['z-last.bin']! }, 100);
    expect(last.bytes.toString()).toBe(random.slice(0, 100));
    expect(last.truncated).toBe(true);
  });

  it('shows the build log escaped, without colour codes, and decodes compressed logs', async () => {
    const b = new Browser(t.url);
    const { status, html } = await b.page(`${base}/paths/${tool.hashPart}/log`);
    expect(status).toBe(200);
    const log = section(html, 'log-text');
    expect(textOf(log)).toContain('building ui-tool <script>alert("log")</script> done');
    expect(log).not.toContain('\u001b');
    expectNoInjectedMarkup(html);
    const raw = await b.request(`${base}/paths/${tool.hashPart}/log/raw`);
    expect(raw.headers.get('content-disposition')).toBe(`attachment; filename="${toolDrv}.log"`);
    expect(await raw.text()).toContain('<script>alert("log")</script>');

    const gz = await b.page(`${base}/paths/${hostile.hashPart}/log`);
    expect(textOf(section(gz.html, 'log-text'))).toContain('compressed log with <img src=x onerror=alert(3)>');
    expectNoInjectedMarkup(gz.html);
  });

  it('downloads the NAR as stored', async () => {
    const b = new Browser(t.url);
    const res = await b.request(`${base}/paths/${tool.hashPart}/nar`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-disposition')).toBe(`attachment; filename="${tool.fileName}"`);
    expect(Buffer.from(await res.arrayBuffer()).equals(tool.file)).toBe(true);
  });

  it('shows file names, contents, symlink targets and logs from a hostile NAR escaped', async () => {
    const b = new Browser(t.url);
    const h = `${base}/paths/${hostile.hashPart}`;
    const pathPage = await b.page(h);
    expect(pathPage.status).toBe(200);
    expectNoInjectedMarkup(pathPage.html);
    const tree = textOf(section(pathPage.html, 'file-tree'));
    expect(tree).toContain('<script>alert(1)</');
    expect(tree).toContain('"onmouseover=alert(1) x="');
    expect(tree).toContain('"><img src=x onerror=alert(2)>');
    expect(pathPage.html).toContain('&lt;script>alert(1)&lt;/');
    // Names go into addresses percent-encoded.
    expect(pathPage.html).toContain(`href="${h}/files/%3Cscript%3Ealert%281%29%3C"`);
    expect(pathPage.html).toContain(`href="${h}/files/%22onmouseover%3Dalert%281%29%20x%3D%22"`);

    const inDir = await b.page(`${h}/files/%3Cscript%3Ealert%281%29%3C`);
    expect(inDir.status).toBe(200);
    expectNoInjectedMarkup(inDir.html);
    const file = await b.page(`${h}/files/%3Cscript%3Ealert%281%29%3C/script%3E`);
    expect(file.status).toBe(200);
    expectNoInjectedMarkup(file.html);
    expect(textOf(section(file.html, 'file-content'))).toContain('<script>alert("contents")</script>');
    expect(textOf(section(file.html, 'file-crumbs'))).toContain('<script>alert(1)< / script>');
    const quoted = await b.page(`${h}/files/%22onmouseover%3Dalert%281%29%20x%3D%22`);
    expect(quoted.status).toBe(200);
    expectNoInjectedMarkup(quoted.html);
    expect(textOf(section(quoted.html, 'file-content'))).toContain('"><img src=x onerror=alert(1)>');
    const link = await b.page(`${h}/files/evil-link`);
    expectNoInjectedMarkup(link.html);
    expect(textOf(section(link.html, 'link-target'))).toContain('"><img src=x onerror=alert(2)>');
    const amp = await b.page(`${h}/files/${encodeURIComponent("it's & <fine>")}`);
    expect(amp.status).toBe(200);
  });

  it("shows a nix package version's store path and links to its page", async () => {
    const b = new Browser(t.url);
    const { status, html } = await b.page(`/alice/-/packages/nix/ui-tool/${tool.baseName}`);
    expect(status).toBe(200);
    const view = section(html, 'nix-version');
    expect(view).toContain(`href="${base}/paths/${tool.hashPart}"`);
    expect(textOf(view)).toContain(`/nix/store/${tool.baseName}`);
    expect(textOf(view)).toContain('Closure 2 paths');
  });
});
