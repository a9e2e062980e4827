import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { launchChromium, requireChromium, type LaunchedBrowser } from '../../support/browser/index.js';

const chromium = requireChromium();
const root = path.resolve(fileURLToPath(import.meta.url), '../../../..');
const SCREENSHOTS = path.join(root, 'test-results', 'screenshots');

/**
 * The web UI in a real browser, the way a new user meets it: register, sign out and in,
 * make a token, publish with it from a script, find the package, revoke the token and see
 * the upload fail, sign out. Screenshots of the main pages go to test-results/screenshots.
 */
describe.runIf(chromium.available)('the web UI in headless Chromium', () => {
  let t: TestServer;
  let browser: LaunchedBrowser;
  let page: Page;
  const problems: string[] = [];
  const statuses: string[] = [];
  let token = '';

  const shot = (name: string) => page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const upload = (name: string, version: string, file: string, body: string, secret = token) =>
    fetch(`${t.url}/api/packages/dana/generic/${name}/${version}/${file}`, { method: 'PUT', body, headers: { authorization: basic('dana', secret) } });

  beforeAll(async () => {
    if (!chromium.available) return;
    await fs.mkdir(SCREENSHOTS, { recursive: true });
    t = await startTestServer({ db: 'pglite' });
    browser = await launchChromium({ executablePath: chromium.executablePath });
    page = await browser.context.newPage();
    // A Content-Security-Policy violation or a script error would show up here.
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(msg.text());
    });
    page.on('pageerror', (err) => problems.push(String(err)));
    page.on('response', (res) => {
      if (res.status() >= 400) statuses.push(`${res.status()} ${new URL(res.url()).pathname}`);
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('registers a new account', async () => {
    await page.goto(t.url + '/');
    await expect.poll(() => page.title()).toBe('Welcome · forge');
    await shot('01-home-visitor');
    await page.getByRole('link', { name: 'Register' }).first().click();
    await page.getByLabel('Username').fill('dana');
    await page.getByLabel('Email address').fill('dana@example.test');
    await page.getByLabel('Password', { exact: true }).fill('dana-password');
    await page.getByLabel('Confirm password').fill('dana-password');
    await shot('02-register');
    await page.getByRole('button', { name: 'Register account' }).click();
    await page.waitForURL(t.url + '/');
    expect(await page.textContent('.notice-success')).toContain('Welcome, dana!');
    expect(await page.textContent('#namespaces')).toContain('dana');
  });

  it('signs out and in again through the account menu', async () => {
    await page.locator('details.menu > summary').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(t.url + '/');
    expect(await page.locator('.navbar').getByRole('link', { name: 'Sign in' }).count()).toBe(1);

    await page.locator('.navbar').getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Username or email address').fill('dana');
    await page.getByLabel('Password').fill('wrong-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    expect(await page.textContent('.notice-error')).toContain('The username or password is incorrect.');
    await shot('03-sign-in-failed');
    await page.getByLabel('Password').fill('dana-password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(t.url + '/');
    expect(await page.textContent('.menu-name')).toBe('dana');
    await shot('04-dashboard');
  });

  it('creates an access token, shown once, and uses it from a script to publish', async () => {
    await page.locator('details.menu > summary').click();
    await page.getByRole('link', { name: 'Access tokens' }).click();
    await page.waitForURL(t.url + '/user/settings/applications');
    await page.getByLabel('Token name').fill('laptop');
    await page.locator('input[name="scopes"][value="write:package"]').check();
    await page.getByLabel('Expires on (optional)').fill('2999-01-31');
    await page.getByRole('button', { name: 'Generate token' }).click();
    token = (await page.locator('.card-success code').first().textContent()) ?? '';
    expect(token).toMatch(/^[0-9a-f]{40}$/);
    await shot('05-token-created');

    expect((await upload('hello-tool', '1.2.3', 'hello-1.2.3.tar.gz', 'hello tarball contents')).status).toBe(201);
    expect((await upload('hello-tool', '1.2.3', 'SHA256SUMS', 'abc  hello-1.2.3.tar.gz\n')).status).toBe(201);
    expect((await upload('hello-tool', '1.3.0', 'hello-1.3.0.tar.gz', 'newer')).status).toBe(201);
    expect((await upload('other-lib', '0.1', 'lib.zip', 'zip')).status).toBe(201);

    // (Not reload(): that would submit the form again.)
    await page.goto(t.url + '/user/settings/applications');
    const row = page.locator('tr[data-token="laptop"]');
    expect(await row.textContent()).toContain('write:package');
    expect(await row.textContent()).toContain('2999-01-31');
    expect(await page.locator('.card-success').count()).toBe(0); // the token is gone from the page
  });

  it('finds the package by search and opens it and its version', async () => {
    await page.goto(t.url + '/dana/-/packages');
    expect(await page.locator('#packages > li').count()).toBe(2);
    await shot('06-packages');
    await page.getByRole('searchbox', { name: 'Search packages by name' }).fill('hello');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.waitForURL(/q=hello/);
    expect(await page.locator('#packages > li').count()).toBe(1);
    await page.getByRole('link', { name: 'hello-tool' }).click();
    await page.waitForURL(t.url + '/dana/-/packages/generic/hello-tool');
    expect(await page.locator('#versions tbody tr').count()).toBe(2);
    await shot('07-package');
    await page.getByRole('link', { name: '1.2.3' }).click();
    await page.waitForURL(t.url + '/dana/-/packages/generic/hello-tool/1.2.3');
    expect(await page.locator('#files tbody tr').count()).toBe(2);
    const link = page.getByRole('link', { name: 'hello-1.2.3.tar.gz' });
    const res = await fetch(new URL((await link.getAttribute('href'))!, t.url));
    expect(await res.text()).toBe('hello tarball contents');
    // Copy buttons appear with JavaScript.
    expect(await page.locator('.btn-copy').first().isVisible()).toBe(true);
    await shot('08-version');
  });

  it('shows the settings pages of a new organization', async () => {
    await t.createUser('erin');
    await page.goto(t.url + '/org/create');
    await page.getByLabel('Organization name').fill('acme');
    await page.getByRole('button', { name: 'Create organization' }).click();
    await page.waitForURL(t.url + '/acme/-/packages');
    await shot('09-org-packages-empty');
    await page.getByRole('link', { name: 'Settings', exact: true }).last().click();
    await page.waitForURL(t.url + '/acme/-/settings');
    await shot('10-org-settings-general');
    await page.locator('.side-menu').getByRole('link', { name: 'Members' }).click();
    await page.getByLabel('Username').fill('erin');
    await page.locator('#member-role').selectOption('write');
    await page.getByRole('button', { name: 'Add member' }).click();
    await page.waitForURL(t.url + '/acme/-/settings/members');
    expect(await page.locator('tr[data-member="erin"] select').inputValue()).toBe('write');
    await shot('11-org-members');
    await page.locator('.side-menu').getByRole('link', { name: 'Packages' }).click();
    await shot('12-org-package-settings');
  });

  it('revokes the token; the next upload fails', async () => {
    await page.goto(t.url + '/user/settings/applications');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await page.waitForURL(t.url + '/user/settings/applications');
    expect(await page.textContent('.notice-success')).toContain('was revoked');
    await shot('13-token-revoked');
    expect((await upload('hello-tool', '2.0', 'x.tar.gz', 'nope')).status).toBe(401);
  });

  it('signs out', async () => {
    await page.locator('details.menu > summary').click();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(t.url + '/');
    expect(await page.locator('.menu-name').count()).toBe(0);
    await page.goto(t.url + '/user/settings/applications');
    expect(page.url()).toContain('/user/login?redirect_to=');
    await page.goto(t.url + '/no-such-owner/-/packages');
    await shot('14-not-found');
    // Chromium logs pages answered with an error status as failed loads; nothing else may appear.
    expect(problems.filter((p) => !p.startsWith('Failed to load resource: the server responded with a status of'))).toEqual([]);
    expect(statuses).toEqual(['400 /user/login', '404 /no-such-owner/-/packages']);
  });
});
