/**
 * The Nix cache in a real browser (headless Chromium) against a server filled by the
 * stock Nix 2.8 client: sign in, make a token in the UI and push with it from `nix copy`,
 * find the path by search, walk its references, open a file of its tree, copy the cache
 * page's snippets into a fresh Nix client's configuration and substitute with them, revoke
 * the token and see the push fail, delete a path. Screenshots of the main pages go to
 * test-results/screenshots/nix-*.png.
 */
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { format } from '@forge/module-nix';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { launchChromium, requireChromium, type LaunchedBrowser } from '../../support/browser/index.js';
import {
  buildClosure,
  copyLog,
  copyTo,
  createNixClient,
  deleteLocal,
  realiseFromSubstituter,
  requireNix,
  validPaths,
  type BuiltClosure,
  type NixClient,
} from '../../support/nix/index.js';

const chromium = requireChromium();
const nix = chromium.available ? requireNix() : { available: false as const };
const root = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const SCREENSHOTS = path.join(root, 'test-results', 'screenshots');

describe.runIf(chromium.available && nix.available)('the Nix cache pages in headless Chromium, filled by Nix 2.8', () => {
  let t: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  let dir: string;
  let client: NixClient;
  let closure: BuiltClosure;
  let token = '';
  let cacheUrl = '';
  const built: string[] = [];
  const problems: string[] = [];
  const base = '/nina/-/packages/nix/-/cache';

  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `nix-${name}.png`), fullPage: true });
  const hashOf = (storePath: string) => path.basename(storePath).slice(0, 32);
  /** What a copy button put on the clipboard (the button must say it copied). */
  async function copy(snippetId: string): Promise<string> {
    const button = page.locator(`#${snippetId} .btn-copy`);
    await button.click();
    await expect.poll(() => button.textContent()).toBe('Copied');
    return page.evaluate(() => navigator.clipboard.readText());
  }

  beforeAll(async () => {
    if (!chromium.available || !nix.available) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    t = await startTestServer({ db: 'pglite' });
    await t.createUser('nina');
    cacheUrl = `${t.url}/api/packages/nina/nix`;
    dir = mkdtempSync(path.join(tmpdir(), 'forge-nix-ui-'));
    client = createNixClient({ dir: path.join(dir, 'pusher') });
    closure = await buildClosure(client, [
      { name: 'ui-e2e-lib', size: 40_000, files: 3, content: 'text' },
      { name: 'ui-e2e-tool', size: 8_000, content: 'text', bin: true, symlink: true, references: ['ui-e2e-lib'] },
      { name: 'ui-e2e-app', size: 60_000, files: 2, content: 'mixed', bin: true, references: ['ui-e2e-tool', 'ui-e2e-lib'], selfReference: true },
    ]);
    built.push(...closure.outPaths, ...closure.drvPaths);

    browser = await launchChromium({ executablePath: chromium.executablePath, viewport: { width: 1280, height: 900 } });
    await browser.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
    page = await browser.context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource: the server responded with a status of')) problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(String(err)));
  });

  afterAll(async () => {
    await browser?.close();
    if (client) await deleteLocal(client, built);
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('signs in and creates a token in the UI', async () => {
    await page.goto(`${t.url}/user/login`);
    await page.getByLabel('Username or email address').fill('nina');
    await page.getByLabel('Password').fill('password-nina');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.url}/`);
    await page.goto(`${t.url}/user/settings/applications`);
    await page.getByLabel('Token name').fill('nix-laptop');
    await page.locator('input[name="scopes"][value="write:package"]').check();
    await page.getByRole('button', { name: 'Generate token' }).click();
    token = (await page.locator('.card-success code').first().textContent()) ?? '';
    expect(token).toMatch(/^[0-9a-f]{40}$/);
  });

  it('pushes a closure with nix copy, the token in a netrc file', async () => {
    client.setNetrc([{ machine: '127.0.0.1', password: token }]);
    const app = closure.byName['ui-e2e-app']!.outPath;
    const pushed = await copyTo(client, cacheUrl, [app], { compression: 'zstd' });
    expect(pushed.code, pushed.stderr).toBe(0);
    const log = await copyLog(client, cacheUrl, [closure.byName['ui-e2e-tool']!.drvPath]);
    expect(log.code, log.stderr).toBe(0);
  });

  it('shows the cache page from the owner tab, and makes the cache private in its settings', async () => {
    await page.goto(`${t.url}/nina/-/packages`);
    await page.locator('.tabs').getByRole('link', { name: 'Nix cache' }).click();
    await page.waitForURL(`${t.url}${base}`);
    expect(await page.textContent('#cache-figures')).toContain('Store paths3');
    await shot('01-cache');

    await page.locator('.tabs').getByRole('link', { name: 'Settings' }).click();
    await page.locator('.side-menu').getByRole('link', { name: 'Packages' }).click();
    await page.locator('#nix-general input[name="visibility"][value="private"]').check();
    await page.locator('#nix-general').getByRole('button', { name: 'Save' }).click();
    await page.waitForURL(/\/nina\/-\/settings\/packages/);
    expect(await page.textContent('.notice-success')).toContain('Nix cache settings saved.');
    await shot('02-settings');
    expect((await fetch(`${cacheUrl}/nix-cache-info`)).status).toBe(401);
  });

  it('finds a path by search, opens it and walks its references', async () => {
    const tool = closure.byName['ui-e2e-tool']!;
    const lib = closure.byName['ui-e2e-lib']!;
    await page.goto(`${t.url}${base}`);
    await page.getByRole('searchbox', { name: 'Search store paths by name or hash' }).fill('e2e-to');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/\/cache\/paths\?q=e2e-to/);
    expect(await page.locator('#store-paths tbody tr').count()).toBe(1);
    await shot('03-search');
    await page.getByRole('link', { name: 'ui-e2e-tool', exact: true }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(tool.outPath)}`);
    expect(await page.textContent('#narinfo-fields')).toContain(`StorePath${tool.outPath}`);
    expect(await page.textContent('#signatures')).toContain(`127.0.0.1-${t.port}-nina-1Server keyactive`);
    expect(await page.textContent('#closure')).toContain('Paths2');
    await shot('04-store-path');

    await page.locator('#references').getByRole('link', { name: path.basename(lib.outPath) }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(lib.outPath)}`);
    expect(await page.locator('#referrers li').count()).toBe(2);
    await page.locator('#referrers').getByRole('link', { name: path.basename(tool.outPath) }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(tool.outPath)}`);
  });

  it('opens a file in the tree of a path, and its build log', async () => {
    const tool = closure.byName['ui-e2e-tool']!;
    await page.locator('#file-tree').getByRole('link', { name: 'bin/' }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(tool.outPath)}/files/bin`);
    await page.locator('#file-tree').getByRole('link', { name: 'ui-e2e-tool', exact: true }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(tool.outPath)}/files/bin/ui-e2e-tool`);
    expect(await page.textContent('#file-content')).toContain("echo 'ui-e2e-tool'");
    await shot('05-file');

    await page.goto(`${t.url}${base}/paths/${hashOf(tool.outPath)}`);
    await page.getByRole('link', { name: 'View build log' }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(tool.outPath)}/log`);
    expect((await page.textContent('#log-text'))!.length).toBeGreaterThan(0);
    await shot('06-build-log');
  });

  it("substitutes with a fresh Nix client configured from the cache page's snippets", async () => {
    await page.goto(`${t.url}${base}`);
    const nixConf = await copy('snippet-nix-conf');
    const netrc = await copy('snippet-netrc');
    const push = await copy('snippet-push');
    // The cache is private (made so above): nix.conf names the netrc file; the netrc line has the login.
    expect(nixConf).toMatch(/^extra-substituters = http:\/\/127\.0\.0\.1:\d+\/api\/packages\/nina\/nix\nextra-trusted-public-keys = 127\.0\.0\.1-\d+-nina-1:\S+\nnetrc-file = \/etc\/nix\/netrc$/);
    expect(netrc).toBe('machine 127.0.0.1 login nina password YOUR_TOKEN');
    expect(push).toBe(`nix copy --to ${cacheUrl} ./result`);

    // A client with no substituter and no trusted key of its own: only the snippets. The
    // one edit: the netrc file lives in the client's directory, not in /etc/nix.
    const fresh = createNixClient({ dir: path.join(dir, 'fresh') });
    const netrcFile = fresh.settings.netrcFile;
    appendFileSync(fresh.confFile, `# pasted from the cache page\n${nixConf.replace('/etc/nix/netrc', netrcFile)}\n`);
    writeFileSync(netrcFile, `${netrc.replace('YOUR_TOKEN', token)}\n`, { mode: 0o600 });
    expect(readFileSync(fresh.confFile, 'utf8')).toContain('extra-substituters = ');

    await deleteLocal(client, closure.outPaths);
    expect(await validPaths(fresh, closure.outPaths)).toEqual([]);
    const realised = await realiseFromSubstituter(fresh, closure.outPaths);
    expect(realised.code, realised.stderr).toBe(0);
    expect(realised.stderr).toContain(`from '${cacheUrl}'`);
    expect((await validPaths(fresh, closure.outPaths)).sort()).toEqual([...closure.outPaths].sort());

    // The push command as printed, with ./result being a real path.
    const extra = await buildClosure(client, [{ name: 'ui-e2e-extra', size: 2_000 }]);
    built.push(...extra.outPaths, ...extra.drvPaths);
    const args = push.split(' ').slice(1).map((a) => (a === './result' ? extra.outPaths[0]! : a));
    const pushed = await client.run('nix', args);
    expect(pushed.code, pushed.stderr).toBe(0);
    await page.goto(`${t.url}${base}/paths?q=ui-e2e-extra`);
    expect(await page.locator('#store-paths tbody tr').count()).toBe(1);
  });

  it('is usable at phone width (390 px): no page scrolls sideways, no snippet is cut off', async () => {
    const phone = await browser.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    try {
      const pages: Array<[string, string]> = [
        ['dashboard', '/'],
        ['cache', base],
        ['paths', `${base}/paths`],
        ['path', `${base}/paths/${hashOf(closure.outPaths[0]!)}`],
        ['settings', '/nina/-/settings/packages'],
        ['tokens', '/user/settings/applications'],
      ];
      for (const [name, url] of pages) {
        const res = await phone.goto(`${t.url}${url}`);
        expect(res?.status(), url).toBe(200);
        const layout = await phone.evaluate(() => ({
          page: document.documentElement.scrollWidth,
          viewport: window.innerWidth,
          // A snippet whose text is wider than its box is cut off (or needs a hidden sideways scroll).
          cut: [...document.querySelectorAll('.code-block pre')]
            .filter((pre) => pre.scrollWidth > pre.clientWidth + 1)
            .map((pre) => (pre.closest('.code-block')?.id || pre.textContent!.slice(0, 40))),
          snippets: document.querySelectorAll('.code-block pre').length,
          // What sticks out: the outermost such elements, named in the failure message.
          wide: [...document.querySelectorAll('body *')]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement!.getBoundingClientRect().right > window.innerWidth + 1))
            .slice(0, 5)
            .map((e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${[...e.classList].join('.')} (${Math.round(e.getBoundingClientRect().right)} px)`),
        }));
        expect(layout.page, `${url} is ${layout.page} px wide at ${layout.viewport} px: ${layout.wide.join(', ')}`).toBeLessThanOrEqual(layout.viewport);
        expect(layout.cut, `${url}: snippets cut off`).toEqual([]);
        if (name === 'dashboard' || name === 'cache') expect(layout.snippets, url).toBeGreaterThan(0);
        await phone.screenshot({ path: path.join(SCREENSHOTS, `nix-phone-${name}.png`), fullPage: true });
      }
    } finally {
      await phone.close();
    }
  });

  it('revokes the token; nix copy fails', async () => {
    await page.goto(`${t.url}/user/settings/applications`);
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke nix-laptop' }).click();
    await page.waitForURL(`${t.url}/user/settings/applications`);
    expect(await page.textContent('.notice-success')).toContain('was revoked');
    const more = await buildClosure(client, [{ name: 'ui-e2e-late', size: 1_000 }]);
    built.push(...more.outPaths, ...more.drvPaths);
    const pushed = await copyTo(client, cacheUrl, more.outPaths);
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/401|Unauthorized|does not appear to be a binary cache/i);
  });

  it('shows hostile names from a NAR as text: nothing runs', async () => {
    // Built with the format layer (the builder of real paths cannot make these names) and
    // pushed over HTTP like nix copy does.
    const nar = format.writeNar({
      type: 'directory',
      entries: {
        '<script>alert(1)<': { type: 'directory', entries: { 'script>': { type: 'regular', contents: '<script>alert(2)</script>\n' } } },
        '"onmouseover=alert(3) x="': { type: 'regular', contents: 'quoted\n' },
        '<img src=x onerror=alert(4)>': { type: 'symlink', target: '"><svg onload=alert(5)>' },
      },
    });
    const hashPart = 'w'.repeat(31) + '0';
    const storePath = format.parseStorePathBaseName(`${hashPart}-ui-e2e-hostile`);
    const url = format.narFileUrl(format.sha256(nar), 'none');
    const narinfo = format.serializeNarInfo({
      storePath,
      url,
      compression: 'none',
      fileHash: format.sha256(nar),
      fileSize: nar.length,
      narHash: format.sha256(nar),
      narSize: nar.length,
      references: [],
      sigs: [],
    });
    const auth = { authorization: basic('nina', await t.token((await t.forge.owners.findUser('nina'))!)) };
    expect((await fetch(`${cacheUrl}/${url}`, { method: 'PUT', body: Buffer.from(nar), headers: auth })).status).toBe(201);
    expect((await fetch(`${cacheUrl}/${hashPart}.narinfo`, { method: 'PUT', body: narinfo, headers: auth })).status).toBe(201);

    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${t.url}${base}/paths/${hashPart}`);
    await page.locator('#file-tree a', { hasText: '"onmouseover=alert(3) x="' }).hover();
    expect(await page.locator('#file-tree').textContent()).toContain('<img src=x onerror=alert(4)>');
    await shot('11-hostile-names');
    await page.locator('#file-tree').getByRole('link', { name: '<script>alert(1)</' }).click();
    await page.locator('#file-tree').getByRole('link', { name: 'script>' }).click();
    expect(await page.textContent('#file-content')).toContain('<script>alert(2)</script>');
    expect(await page.textContent('#file-crumbs')).toContain('<script>alert(1)</script>');
    await shot('12-hostile-file');
    expect(dialogs).toEqual([]);
  });

  it('deletes a path after confirming', async () => {
    // A path others depend on asks to take them along.
    const lib = closure.byName['ui-e2e-lib']!;
    await page.goto(`${t.url}${base}/paths/${hashOf(lib.outPath)}/delete`);
    expect(await page.locator('#dependents li').count()).toBe(2);
    await shot('07-delete-dependents');
    await page.getByRole('link', { name: 'Cancel' }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(lib.outPath)}`);

    const app = closure.byName['ui-e2e-app']!;
    await page.goto(`${t.url}${base}/paths/${hashOf(app.outPath)}`);
    await page.getByRole('link', { name: 'Delete this store path' }).click();
    await page.waitForURL(`${t.url}${base}/paths/${hashOf(app.outPath)}/delete`);
    await shot('08-delete');
    await page.getByRole('button', { name: 'Delete store path' }).click();
    await page.waitForURL(`${t.url}${base}/paths`);
    expect(await page.textContent('.notice-success')).toContain(`Deleted ${app.outPath}.`);
    await shot('09-paths-after-delete');
    const reader = await t.token((await t.forge.owners.findUser('nina'))!, ['read:package']);
    const res = await fetch(`${cacheUrl}/${hashOf(app.outPath)}.narinfo`, { headers: { authorization: basic('nina', reader) } });
    expect(res.status).toBe(404);
    const kept = await fetch(`${cacheUrl}/${hashOf(lib.outPath)}.narinfo`, { headers: { authorization: basic('nina', reader) } });
    expect(kept.status).toBe(200);
  });

  it('shows the version page of a nix package', async () => {
    const lib = closure.byName['ui-e2e-lib']!;
    await page.goto(`${t.url}/nina/-/packages/nix/ui-e2e-lib/${path.basename(lib.outPath)}`);
    expect(await page.textContent('#nix-version')).toContain(lib.outPath);
    await shot('10-version');
    expect(problems).toEqual([]);
  });
});
