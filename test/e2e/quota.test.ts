/**
 * Storage quotas with real clients (docs/quotas.md): what Nix 2.8 prints when `nix copy`
 * runs into an owner's quota, and the usage bar, banner and administrators' page in
 * headless Chromium.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { launchChromium, requireChromium, type LaunchedBrowser } from '../support/browser/index.js';
import { buildClosure, copyTo, createNixClient, deleteLocal, requireNix, type BuiltClosure, type NixClient } from '../support/nix/index.js';

const nix = requireNix();
const chromium = requireChromium();

describe.runIf(nix.available)('Nix 2.8 pushing into an owner’s quota', () => {
  let t: TestServer;
  let dir: string;
  let client: NixClient;
  let closure: BuiltClosure;

  beforeAll(async () => {
    t = await startTestServer({ db: 'pglite' });
    const alice = await t.createUser('alice');
    // Room for the small dependency (and its listing), not for the large path on top.
    await t.forge.registry.storage.setQuota(alice.id, 100_000);
    dir = mkdtempSync(path.join(tmpdir(), 'forge-quota-e2e-'));
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: await t.token(alice) }] });
    closure = await buildClosure(client, [
      { name: 'quota-lib', size: 20_000, content: 'binary' },
      { name: 'quota-app', size: 200_000, content: 'binary', references: ['quota-lib'] },
    ]);
  });
  afterAll(async () => {
    if (client && closure) await deleteLocal(client, [...closure.outPaths, ...closure.drvPaths]);
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('fails with the server’s message after "response body:", keeping what fitted', async () => {
    const cache = `${t.url}/api/packages/alice/nix`;
    const pushed = await copyTo(client, cache, [closure.byName['quota-app']!.outPath], { compression: 'none' });
    // What the user sees (kept in the test log for docs/quotas.md).
    console.log(`nix copy printed:\n${pushed.stderr}`);
    expect(pushed.code).not.toBe(0);
    expect(pushed.stderr).toMatch(/HTTP error 403/);
    expect(pushed.stderr).toMatch(/response body:\s+storage quota exceeded: alice would use more than [\d.]+ KiB of its 97\.7 KiB quota/);
    expect(pushed.stderr).toMatch(/delete packages or ask an administrator to raise the quota/);
    // The dependency fitted and is complete; the large path left nothing behind.
    const lib = path.basename(closure.byName['quota-lib']!.outPath).slice(0, 32);
    const app = path.basename(closure.byName['quota-app']!.outPath).slice(0, 32);
    expect((await fetch(`${cache}/${lib}.narinfo`)).status).toBe(200);
    expect((await fetch(`${cache}/${app}.narinfo`)).status).toBe(404);
    const status = await t.forge.registry.storageStatus((await t.forge.owners.findByName('alice'))!.id);
    expect(status.usedBytes).toBeLessThanOrEqual(100_000);
  });
});

describe.runIf(chromium.available)('the quota in headless Chromium', () => {
  let t: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  const problems: string[] = [];

  async function signIn(name: string) {
    await page.goto(`${t.url}/user/login`);
    await page.getByLabel('Username or email address').fill(name);
    await page.getByLabel('Password').fill(`password-${name}`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL((u) => !u.pathname.startsWith('/user/login'));
  }

  beforeAll(async () => {
    if (!chromium.available) return;
    t = await startTestServer({ db: 'pglite', config: { ownerQuotaBytes: 10_000 } });
    const erin = await t.createUser('erin');
    await t.createUser('root', { admin: true });
    const auth = basic('erin', await t.token(erin));
    for (const [i, size] of [6_000, 2_600].entries()) {
      const res = await fetch(`${t.url}/api/packages/erin/generic/data/1/f${i}`, { method: 'PUT', body: Buffer.alloc(size, i + 1), headers: { authorization: auth } });
      expect(res.status).toBe(201);
    }
    browser = await launchChromium({ executablePath: chromium.executablePath });
    page = await browser.context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(String(err)));
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('shows the owner its usage as a bar with the numbers, and a warning banner from 80 %', async () => {
    await signIn('erin');
    await page.goto(`${t.url}/erin/-/packages`);
    const usage = page.locator('#quota-usage');
    await expect.poll(() => usage.innerText()).toContain('8.4 KiB of 9.8 KiB used (86%)');
    expect(await usage.getAttribute('data-level')).toBe('warning');
    const meter = usage.locator('meter');
    expect(await meter.evaluate((m: HTMLMeterElement) => [m.value, m.max, m.low, m.high])).toEqual([8_600, 10_000, 8_000, 9_500]);
    const banner = page.locator('#quota-banner');
    expect(await banner.innerText()).toContain('erin has used 86% of its storage quota (8.4 KiB of 9.8 KiB)');
    expect(await banner.locator('.notice-warning').count()).toBe(1);
    // The dashboard shows the bar per namespace too.
    await page.goto(`${t.url}/`);
    expect(await page.locator('[data-storage="erin"] #quota-usage').innerText()).toContain('(86%)');
    expect(await page.locator('#quota-banner').count()).toBe(0);
    await page.screenshot({ path: path.join(tmpdir(), 'forge-quota-dashboard.png') });
  });

  it('lets a site administrator see the physical total and lower a quota, which turns the banner red', async () => {
    await page.context().clearCookies();
    await signIn('root');
    await page.goto(`${t.url}/-/admin/storage`);
    expect(await page.locator('#storage-totals [data-physical]').getAttribute('data-physical')).toBe('8600');
    const row = page.locator('tr[data-owner="erin"]');
    expect(await row.innerText()).toContain('9.8 KiB (default)');
    await row.getByLabel('Quota of erin').fill('9000');
    await row.getByRole('button', { name: 'Set' }).click();
    await expect.poll(() => page.locator('.notice-success').innerText()).toContain('The quota of erin is now 8.8 KiB.');
    expect(await page.locator('tr[data-owner="erin"]').getAttribute('data-level')).toBe('critical');
    expect(problems).toEqual([]);
    // Erin (not an administrator) gets 404 there, and the red banner on her pages.
    await page.context().clearCookies();
    await signIn('erin');
    expect((await page.goto(`${t.url}/-/admin/storage`))?.status()).toBe(404);
    await page.goto(`${t.url}/erin/-/settings/packages`);
    expect(await page.locator('#quota-banner .notice-error').innerText()).toContain('95% of its storage quota');
    expect(await page.locator('#quota-usage').getAttribute('data-level')).toBe('critical');
  });
});
