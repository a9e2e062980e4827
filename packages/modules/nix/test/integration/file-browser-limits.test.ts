/**
 * The store-path file browser on a NAR of one directory of a million empty files (issue 16
 * finding 1: the whole directory was rendered at once; 1 000 000 entries took the heap to
 * 4 GB and killed the server). Each page now reads the listing as it streams and holds only
 * its window: a page is at most `FILES_PAGE_SIZE` entries, the path's page shows 100, and
 * the server keeps answering `/healthz` while several such pages are read at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { CacheClient, type TestPath } from './support.js';
import { hugeDirectoryPath } from './huge-directory.js';

const kinds = await testDatabaseKinds();
const ENTRIES = 1_000_000;
/** What one page may weigh: 500 rows of short names are about 150 KiB of HTML. */
const PAGE_BYTES_BOUND = 512 * 1024;

const rows = (html: string) => [...html.matchAll(/<tr data-entry="([^"]*)"/g)].map((m) => m[1]);

let huge: TestPath;
beforeAll(async () => {
  huge = await hugeDirectoryPath(ENTRIES);
}, 300_000);

describe.each(kinds)('the file browser of a directory of a million files on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  let files: string;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(await t.createUser('alice'))));
    await alice.push(huge);
    files = `${t.url}/alice/-/packages/nix/-/cache/paths/${huge.hashPart}/files`;
  }, 600_000);
  afterAll(() => t?.close());

  it('pages the directory: 500 entries a page, counted, with links to the next', async () => {
    const res = await fetch(`${files}/`);
    const html = await res.text();
    expect(res.status).toBe(200);
    expect(html.length).toBeLessThan(PAGE_BYTES_BOUND);
    expect(rows(html)).toEqual(Array.from({ length: 500 }, (_, k) => `f${String(k).padStart(7, '0')}`));
    expect(html).toContain('Entries 1–500 of 1,000,000, 500 a page');
    expect(html).toContain('1,000,000 files');
    expect(html).toContain(`href="/alice/-/packages/nix/-/cache/paths/${huge.hashPart}/files?from=500" rel="next"`);

    const last = await fetch(`${files}?from=999800`);
    const lastHtml = await last.text();
    expect(rows(lastHtml)).toEqual(Array.from({ length: 200 }, (_, k) => `f${String(999_800 + k).padStart(7, '0')}`));
    expect(lastHtml).toContain('Entries 999,801–1,000,000 of 1,000,000');
    expect(lastHtml).not.toContain('rel="next"');

    // Past the end, or not a number: an empty page, or the first.
    expect(rows(await (await fetch(`${files}?from=5000000`)).text())).toEqual([]);
    expect(rows(await (await fetch(`${files}?from=-3`)).text())[0]).toBe('f0000000');
  }, 120_000);

  it("shows a file of it, and the path's own page shows the first 100 entries with a link to all", async () => {
    const file = await fetch(`${files}/f0765432`);
    expect(file.status).toBe(200);
    expect(await file.text()).toContain('This file is empty.');
    expect((await fetch(`${files}/f9999999`)).status).toBe(404);

    const page = await fetch(`${t.url}/alice/-/packages/nix/-/cache/paths/${huge.hashPart}`);
    const html = await page.text();
    expect(page.status).toBe(200);
    expect(html.length).toBeLessThan(PAGE_BYTES_BOUND);
    expect(rows(html)).toHaveLength(100);
    expect(html).toMatch(/All 1,000,000 entries/);
  }, 120_000);

  it('keeps answering /healthz while eight pages of it are read at once, in bounded memory', async () => {
    const probes: number[] = [];
    let reading = true;
    const probe = (async () => {
      while (reading) {
        const started = performance.now();
        const res = await fetch(`${t.url}/healthz`, { signal: AbortSignal.timeout(5_000) });
        expect(res.status).toBe(200);
        probes.push(performance.now() - started);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // The server runs in this process: its heap is this heap.
    const heapBefore = process.memoryUsage().heapUsed;
    let heapPeak = heapBefore;
    const sampler = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 20);
    const pages = await Promise.all(
      Array.from({ length: 8 }, async (_, k) => {
        const res = await fetch(`${files}?from=${k * 100_000}`);
        return { status: res.status, size: (await res.text()).length };
      }),
    );
    clearInterval(sampler);
    reading = false;
    await probe;
    for (const p of pages) {
      expect(p.status).toBe(200);
      expect(p.size).toBeLessThan(PAGE_BYTES_BOUND);
    }
    expect(probes.length).toBeGreaterThan(0);
    // A generous bound: /healthz waits for nothing but one small query and its turn on the
    // event loop, which a listing read gives back every 64 KiB.
    expect(Math.max(...probes)).toBeLessThan(1_000);
    // Parsing the whole listing grew the heap by gigabytes; reading it holds one window.
    expect(heapPeak - heapBefore).toBeLessThan(256 * 1024 * 1024);
  }, 300_000);
});
