/**
 * The store path list at a hundred thousand paths (PGlite and PostgreSQL): rows inserted
 * straight into `nix_store_path`, then every page walked forwards and some backwards in
 * each sort order (no row skipped or repeated, also where sort keys tie), the query plans
 * checked for an index range scan without a sort, and the time of page 1 and of a deep
 * page printed. Nothing here asserts a duration.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@forge/core';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { StorePaths, type StorePathRecord, type StorePathSort } from '../../src/store/store-paths.js';
import { Browser, textOf } from './ui-support.js';

const kinds = await testDatabaseKinds();
const PATHS = 100_000;

async function time<T>(work: () => Promise<T>, runs = 5): Promise<{ value: T; ms: number }> {
  let best = Infinity;
  let value!: T;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    value = await work();
    best = Math.min(best, performance.now() - start);
  }
  return { value, ms: best };
}

describe.each(kinds)('store path list at %d paths on %s'.replace('%d', PATHS.toLocaleString('en')), (kind) => {
  let t: TestServer;
  let big: User;
  let paths: StorePaths;
  const report: string[] = [];

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    big = await t.createUser('big');
    const other = await t.createUser('other');
    const staged = await t.forge.registry.stageBlob(Readable.from([Buffer.from('x')]));
    const { version, file } = await t.forge.registry.createPackageAndAddFile({
      ownerId: big.id,
      type: 'nix',
      name: 'placeholder',
      version: '1',
      file: { name: 'f', blob: staged },
    });
    await t.forge.db.dataSource.query(`INSERT INTO nix_cache (owner_id) VALUES ($1), ($2)`, [big.id, other.id]);
    const start = performance.now();
    // Three rows share each timestamp, names repeat every 5000 rows, sizes every 1000: the
    // id must break every tie. Another owner's rows sit in the same indexes.
    for (const [owner, n] of [
      [big.id, PATHS],
      [other.id, 20_000],
    ] as const) {
      await t.forge.db.dataSource.query(
        `INSERT INTO nix_store_path (owner_id, hash_part, name, version_id, url, compression, file_hash, file_size, nar_hash, nar_size, nar_blob_id, created_at)
         SELECT $1::int, translate(md5($1::int::text || '-' || i::text), 'eotu', 'xyzw'), 'pkg-' || (i % 5000) || '-' || (i % 7) || '.' || (i % 13),
                $2, 'nar/x.nar.xz', 'xz', rpad('a', 52, 'a'), 1000 + (i::bigint * 7919) % 1000000, rpad('b', 52, 'b'),
                2000 + (i::bigint * 104729) % 1000, $3, timestamptz '2024-01-01' + make_interval(secs => (i / 3)::double precision)
         FROM generate_series(1, $4::int) AS i`,
        [owner, version.id, file.blobId, n],
      );
    }
    await t.forge.db.dataSource.query('ANALYZE nix_store_path');
    report.push(`${kind}: inserted ${PATHS + 20_000} rows in ${Math.round(performance.now() - start)} ms`);
    paths = new StorePaths(t.forge.db.dataSource);
  });
  afterAll(async () => {
    console.log(report.join('\n'));
    await t?.close();
  });

  const keyOf: Record<StorePathSort, (p: StorePathRecord) => [number | string, number]> = {
    created: (p) => [-p.createdAt.getTime(), -p.id],
    name: (p) => [p.name, p.id],
    size: (p) => [-p.narSize, -p.id],
  };
  const before = (a: [number | string, number], b: [number | string, number]) => (a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]));

  it.each(['created', 'name', 'size'] as const)('walks all pages sorted by %s, forwards and back, without gaps or repeats', async (sort) => {
    const seen = new Set<number>();
    let cursor: string | null = null;
    let previous: StorePathRecord | undefined;
    const cursors: Array<string | null> = [];
    let pages = 0;
    do {
      cursors.push(cursor);
      const page = await paths.list(big.id, { sort, limit: 200, cursor });
      for (const p of page.items) {
        expect(seen.has(p.id)).toBe(false);
        seen.add(p.id);
        // The database's collation orders names; compare names only where they differ in digits.
        if (previous && sort !== 'name') expect(before(keyOf[sort](previous), keyOf[sort](p))).toBe(true);
        previous = p;
      }
      expect(page.prev === null).toBe(cursor === null);
      cursor = page.next;
      pages++;
    } while (cursor);
    expect(seen.size).toBe(PATHS);
    expect(pages).toBe(PATHS / 200);

    // Back from the last page: each `prev` gives exactly the page before.
    let page = await paths.list(big.id, { sort, limit: 200, cursor: cursors[cursors.length - 1] });
    for (let i = cursors.length - 2; i >= cursors.length - 4; i--) {
      const back = await paths.list(big.id, { sort, limit: 200, before: page.prev });
      const forward = await paths.list(big.id, { sort, limit: 200, cursor: cursors[i] });
      expect(back.items.map((p) => p.id)).toEqual(forward.items.map((p) => p.id));
      expect(back.next).toBe(forward.next);
      page = back;
    }
    // And back to the first page, which has no `prev`.
    const second = await paths.list(big.id, { sort, limit: 200, cursor: cursors[1] });
    const first = await paths.list(big.id, { sort, limit: 200, before: second.prev });
    expect(first.prev).toBeNull();
    expect(first.items.map((p) => p.id)).toEqual((await paths.list(big.id, { sort, limit: 200 })).items.map((p) => p.id));
  });

  it('finds by name substring and hash prefix, page by page', async () => {
    const ids = new Set<number>();
    let cursor: string | null = null;
    do {
      const page = await paths.list(big.id, { query: 'PKG-4999-', limit: 7, cursor });
      for (const p of page.items) {
        expect(p.name.startsWith('pkg-4999-')).toBe(true);
        ids.add(p.id);
      }
      cursor = page.next;
    } while (cursor);
    expect(ids.size).toBe(PATHS / 5000);
    const one = (await paths.list(big.id, { limit: 1 })).items[0]!;
    const byHash = await paths.list(big.id, { query: one.hashPart.slice(0, 10) });
    expect(byHash.items.map((p) => p.id)).toContain(one.id);
    // LIKE wildcards are literal.
    expect((await paths.list(big.id, { query: '%' })).items).toEqual([]);
    expect((await paths.list(big.id, { query: 'pkg_1' })).items).toEqual([]);
  });

  it('plans every keyset page as an index range scan without a sort', async () => {
    const deep = await paths.list(big.id, { limit: 50, cursor: (await paths.list(big.id, { limit: 50 })).next });
    const ds = t.forge.db.dataSource;
    const plans = {
      created: `SELECT * FROM nix_store_path WHERE owner_id = $1 AND (created_at, id) < (timestamptz '2024-01-02', 50000) ORDER BY created_at DESC, id DESC LIMIT 51`,
      name: `SELECT * FROM nix_store_path WHERE owner_id = $1 AND (name, id) > ('pkg-4000', 0) ORDER BY name ASC, id ASC LIMIT 51`,
      size: `SELECT * FROM nix_store_path WHERE owner_id = $1 AND (nar_size, id) < (2500, 50000) ORDER BY nar_size DESC, id DESC LIMIT 51`,
      back: `SELECT * FROM nix_store_path WHERE owner_id = $1 AND (created_at, id) > (timestamptz '2024-01-02', 50000) ORDER BY created_at ASC, id ASC LIMIT 51`,
    };
    for (const [name, sql] of Object.entries(plans)) {
      const plan = (await ds.query(`EXPLAIN ${sql}`, [big.id])).map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
      expect(plan, name).toMatch(/Index Scan( Backward)? using nix_store_path_(created|name|size)_idx/);
      expect(plan, name).toMatch(/Index Cond: .*ROW\(/);
      expect(plan, name).not.toMatch(/\bSort\b/);
    }
    expect(deep.items).toHaveLength(50);
  });

  it('reports the time of page 1 and of a deep page', async () => {
    for (const sort of ['created', 'name', 'size'] as const) {
      // A cursor 99 % of the way down.
      let cursor: string | null = null;
      for (let i = 0; i < 99; i++) cursor = (await paths.list(big.id, { sort, limit: 1000, cursor })).next;
      const first = await time(() => paths.list(big.id, { sort, limit: 50 }));
      const deep = await time(() => paths.list(big.id, { sort, limit: 50, cursor }));
      const back = await time(() => paths.list(big.id, { sort, limit: 50, before: deep.value.prev }));
      expect(deep.value.items).toHaveLength(50);
      report.push(
        `${kind}: sort=${sort}: page 1 ${first.ms.toFixed(2)} ms, page after row 99,000 ${deep.ms.toFixed(2)} ms, the page before it ${back.ms.toFixed(2)} ms`,
      );
    }
    const common = await time(() => paths.list(big.id, { query: 'pkg-1', limit: 50 }));
    const rare = await time(() => paths.list(big.id, { query: 'pkg-4999-3', limit: 50 }));
    const none = await time(() => paths.list(big.id, { query: 'no-such-name', limit: 50 }));
    report.push(
      `${kind}: search: frequent name ${common.ms.toFixed(2)} ms, rare name ${rare.ms.toFixed(2)} ms (${rare.value.items.length} rows), no match ${none.ms.toFixed(2)} ms (scans the owner's rows)`,
    );
    const stats = await time(() => paths.stats(big.id));
    const stored = await time(() => paths.storedNarBytes(big.id));
    report.push(`${kind}: cache figures: stats ${stats.ms.toFixed(2)} ms, stored bytes ${stored.ms.toFixed(2)} ms`);
    const b = new Browser(t.url);
    const overview = await time(() => b.page('/big/-/packages/nix/-/cache'), 3);
    const list = await time(() => b.page('/big/-/packages/nix/-/cache/paths?sort=size'), 3);
    report.push(`${kind}: whole pages over HTTP: cache page ${overview.ms.toFixed(1)} ms, store path list ${list.ms.toFixed(1)} ms`);
    expect(textOf(overview.value.html)).toContain(`Store paths ${PATHS.toLocaleString('en')}`);
  });

  it('pages through the list in the UI', async () => {
    const b = new Browser(t.url);
    const first = await b.page('/big/-/packages/nix/-/cache/paths?sort=name');
    expect(first.status).toBe(200);
    expect(textOf(first.html)).toContain(`${PATHS.toLocaleString('en')} store paths`);
    expect((first.html.match(/<tr data-hash=/g) ?? []).length).toBe(50);
    expect(first.html).not.toContain('rel="prev"');
    const next = /href="([^"]*after=[^"]*)" rel="next"/.exec(first.html)![1]!.replace(/&amp;/g, '&');
    expect(next).toContain('sort=name');
    const second = await b.page(next);
    expect((second.html.match(/<tr data-hash=/g) ?? []).length).toBe(50);
    const firstRows = first.html.match(/data-hash="[^"]+"/g)!;
    const secondRows = second.html.match(/data-hash="[^"]+"/g)!;
    expect(secondRows.some((r) => firstRows.includes(r))).toBe(false);
    const prev = /href="([^"]*before=[^"]*)" rel="prev"/.exec(second.html)![1]!.replace(/&amp;/g, '&');
    const back = await b.page(prev);
    expect(back.html.match(/data-hash="[^"]+"/g)).toEqual(firstRows);
    // A cursor that was tampered with is the first page, not an error.
    expect((await b.page('/big/-/packages/nix/-/cache/paths?after=bm9uc2Vuc2U')).status).toBe(200);
    expect((await b.page('/big/-/packages/nix/-/cache/paths?sort=size&after=' + Buffer.from('["x",1]').toString('base64url'))).status).toBe(200);
  });
});
