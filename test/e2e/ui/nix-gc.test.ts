/**
 * Pins and garbage collection in a real browser (headless Chromium): pin a store path from
 * its page ("pinned by …"), set a retention in the settings panel, see the dry-run preview
 * list exactly the expired path, run the collection with the button, find the pin on the
 * pins page and unpin it. Screenshots go to test-results/screenshots/nix-gc-*.png.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { CacheClient, makePath, type TestPath } from '../../../packages/modules/nix/test/integration/support.js';
import { launchChromium, requireChromium, type LaunchedBrowser } from '../../support/browser/index.js';

const chromium = requireChromium();
const root = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const SCREENSHOTS = path.join(root, 'test-results', 'screenshots');

describe.runIf(chromium.available)('pins and garbage collection in headless Chromium', () => {
  let t: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  let base: TestPath;
  let app: TestPath;
  let old: TestPath;
  const problems: string[] = [];
  const cache = '/nina/-/packages/nix/-/cache';
  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `nix-gc-${name}.png`), fullPage: true });
  const stored = async (p: TestPath) => (await t.forge.db.dataSource.query(`SELECT 1 FROM nix_store_path WHERE hash_part = $1`, [p.hashPart])).length > 0;

  beforeAll(async () => {
    if (!chromium.available) return;
    mkdirSync(SCREENSHOTS, { recursive: true });
    t = await startTestServer({ db: 'pglite', config: { cleanupIntervalMs: 0 } });
    const nina = await t.createUser('nina');
    const client = new CacheClient(t, 'nina', basic('nina', await t.token(nina)));
    base = makePath({ name: 'gc-base-1.0', compression: 'none' });
    app = makePath({ name: 'gc-app-1.0', references: [base], compression: 'none' });
    old = makePath({ name: 'gc-old-1.0', compression: 'none' });
    await client.push(base, app, old);
    // Everything was last used 60 days ago.
    await t.forge.db.dataSource.query(`UPDATE nix_store_path SET created_at = now() - interval '60 days', last_accessed_at = now() - interval '60 days'`);

    browser = await launchChromium({ executablePath: chromium.executablePath, viewport: { width: 1280, height: 900 } });
    page = await browser.context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !msg.text().startsWith('Failed to load resource: the server responded with a status of')) problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(String(err)));
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(`${t.url}/user/login`);
    await page.getByLabel('Username or email address').fill('nina');
    await page.getByLabel('Password').fill('password-nina');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${t.url}/`);
  });

  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('pins a path from its page, which then says who pins it', async () => {
    await page.goto(`${t.url}${cache}/paths/${app.hashPart}`);
    expect(await page.textContent('#path-pins')).toContain('Not pinned');
    await page.getByLabel('Pin as').fill('release-1');
    await page.getByRole('button', { name: 'Pin', exact: true }).click();
    await page.waitForURL(`${t.url}${cache}/paths/${app.hashPart}`);
    expect(await page.textContent('.notice-success')).toContain('Pinned as “release-1”');
    expect(await page.textContent('#path-pins')).toMatch(/Pinned by\s*release-1/);
    await shot('path-pinned');
  });

  it('sets a retention, previews exactly the expired path, and collects it with the button', async () => {
    await page.goto(`${t.url}/nina/-/settings/packages`);
    await page.getByLabel('Retention').fill('30d');
    await page.locator('#nix-lifecycle button[type="submit"]').click();
    expect(await page.textContent('.notice-success')).toContain('Storage lifecycle settings saved.');
    expect(await page.inputValue('#nix-retention')).toBe('30d');
    const preview = page.locator('#nix-gc-preview');
    expect(await preview.textContent()).toContain('would remove 1 item');
    expect(await preview.locator('.list-item').allTextContents()).toEqual([expect.stringContaining(`/nix/store/${old.baseName}`)]);
    await shot('preview');

    await page.getByRole('button', { name: 'Run garbage collection now' }).click();
    await page.waitForURL(/settings\/packages/);
    expect(await page.textContent('.notice-success')).toContain('Garbage collection removed 1 item');
    expect(await stored(old)).toBe(false);
    expect(await stored(app)).toBe(true);
    expect(await stored(base)).toBe(true);
    expect(await page.textContent('#nix-gc-preview')).toContain('The next collection would remove nothing.');
  });

  it('lists the pin on the pins page and unpins it from the path page; the next preview lists the closure', async () => {
    await page.goto(`${t.url}${cache}/pins`);
    expect(await page.locator('.nix-pin').allTextContents()).toEqual([expect.stringContaining(`/nix/store/${app.baseName}`)]);
    await shot('pins');
    await page.goto(`${t.url}${cache}/paths/${app.hashPart}`);
    await page.getByRole('button', { name: 'Unpin release-1' }).click();
    await page.waitForURL(`${t.url}${cache}/paths/${app.hashPart}`);
    expect(await page.textContent('#path-pins')).toContain('Not pinned');
    // Reading the path page is no use of the path (only narinfo reads are): the closure is garbage now.
    await page.goto(`${t.url}/nina/-/settings/packages`);
    const items = await page.locator('#nix-gc-preview .list-item').allTextContents();
    expect(items).toHaveLength(2);
    expect(items.join('\n')).toContain(app.baseName);
    expect(items.join('\n')).toContain(base.baseName);
    expect(problems).toEqual([]);
  });
});
