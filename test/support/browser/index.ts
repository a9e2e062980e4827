/**
 * Headless Chromium for browser tests: Debian's `chromium`, driven by playwright-core
 * (which never downloads a browser of its own). `requireChromium()` answers once per process.
 *
 * - Found: the executable's path.
 * - Missing, with `CI` set: throws, because CI must run every tier.
 * - Missing, elsewhere: `{ available: false }` after a loud warning, so a suite can
 *   `describe.runIf(chromium.available)` and skip.
 */
import { accessSync, constants } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium as playwrightChromium, type BrowserContext } from 'playwright-core';

export type ChromiumAvailability = { available: true; executablePath: string } | { available: false; reason: string };

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => !!p);

let cached: ChromiumAvailability | undefined;

function probe(): ChromiumAvailability {
  for (const candidate of CANDIDATES) {
    try {
      accessSync(candidate, constants.X_OK);
      return { available: true, executablePath: candidate };
    } catch {
      // next
    }
  }
  return { available: false, reason: `no Chromium at ${CANDIDATES.join(' or ')}` };
}

export function requireChromium(): ChromiumAvailability {
  cached ??= probe();
  if (cached.available) return cached;
  const message = `Chromium is not available: ${cached.reason}. Install Debian's chromium (apt-get install chromium).`;
  if (process.env.CI) throw new Error(`${message} CI must run the browser tests.`);
  const bar = '!'.repeat(100);
  console.warn(`\n${bar}\n!!! ${message}\n!!! SKIPPING every browser test.\n${bar}\n`);
  return cached;
}

/** Flags for a quiet, self-contained headless browser: no network of its own, no sandbox (root in CI). */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh browser profile (its own user data dir, removed on close). */
export async function launchChromium(options: { executablePath: string; viewport?: { width: number; height: number } }): Promise<LaunchedBrowser> {
  const userDataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-chromium-'));
  const context = await playwrightChromium.launchPersistentContext(userDataDir, {
    executablePath: options.executablePath,
    headless: true,
    args: ARGS,
    viewport: options.viewport ?? { width: 1280, height: 800 },
    locale: 'en-US',
    timezoneId: 'UTC',
  });
  return {
    context,
    async close() {
      await context.close().catch(() => {});
      await fs.rm(userDataDir, { recursive: true, force: true });
    },
  };
}
