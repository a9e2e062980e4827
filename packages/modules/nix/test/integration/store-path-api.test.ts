/**
 * The store-path API (`/-/paths`): list and search with Link/X-Total-Count pagination, one
 * path's facts with provenance (user and token name), references, referrers, the closure
 * with its total size; the same visibility as the pages (and the narinfo).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { CacheClient, makePath, type TestPath } from './support.js';
import { Browser, section, textOf } from './ui-support.js';

const kinds = await testDatabaseKinds();

/** Follows `Link: <…>; rel="next"` from `first`, collecting every page's items. */
async function allPages(client: CacheClient, first: string): Promise<{ items: Array<Record<string, unknown>>; pages: number; totals: string[] }> {
  const items: Array<Record<string, unknown>> = [];
  const totals: string[] = [];
  let url: string | null = `${client.base}/${first}`;
  let pages = 0;
  while (url) {
    const res: Response = await fetch(url, { headers: client.authorization ? { authorization: client.authorization } : {} });
    expect(res.status).toBe(200);
    totals.push(res.headers.get('x-total-count') ?? '');
    items.push(...((await res.json()) as Array<Record<string, unknown>>));
    const link = res.headers.get('link') ?? '';
    expect(link).toContain('rel="first"');
    url = /<([^>]+)>; rel="next"/.exec(link)?.[1] ?? null;
    if (++pages > 50) throw new Error('pagination does not end');
  }
  return { items, pages, totals };
}

describe.each(kinds)('the store-path API on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  let dep: TestPath;
  let mid: TestPath;
  let top: TestPath;
  const extras: TestPath[] = [];

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const user = await t.createUser('alice', { visibility: 'private' });
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(user, ['read:package', 'write:package'], { name: 'ci-runner' })));
    dep = makePath({ name: 'dep-1.0' });
    mid = makePath({ name: 'mid-1.0', references: [dep] });
    top = makePath({ name: 'top-1.0', references: [mid, dep], selfReference: true });
    await alice.push(dep, mid, top);
    for (let i = 0; i < 5; i++) extras.push(makePath({ name: `extra-${i}` }));
    // The rest with another token of hers.
    await alice.as(basic('alice', await t.token(user, ['write:package'], { name: 'laptop' }))).push(...extras);
  });
  afterAll(() => t?.close());

  it('lists every path once through the Link pages, with X-Total-Count, and searches', async () => {
    const { items, pages, totals } = await allPages(alice, '-/paths?limit=3&sort=name');
    expect(pages).toBe(3);
    expect(new Set(totals)).toEqual(new Set(['8']));
    expect(items.map((i) => i.name)).toEqual(['dep-1.0', 'extra-0', 'extra-1', 'extra-2', 'extra-3', 'extra-4', 'mid-1.0', 'top-1.0']);
    const search = await alice.admin('paths?q=extra&limit=2');
    expect(search.headers.get('x-total-count')).toBe('5');
    expect(((await search.json()) as unknown[]).length).toBe(2);
    const byHash = (await (await alice.admin(`paths?q=${top.hashPart.slice(0, 10)}`)).json()) as Array<{ path: string }>;
    expect(byHash.map((p) => p.path)).toEqual([`/nix/store/${top.baseName}`]);
  });

  it('gives one path\'s facts with who pushed it with which token, and its closure size', async () => {
    const res = await alice.admin(`paths/${top.hashPart}`);
    expect(res.status).toBe(200);
    const facts = (await res.json()) as Record<string, unknown>;
    expect(facts).toMatchObject({
      path: `/nix/store/${top.baseName}`,
      hash: top.hashPart,
      name: 'top-1.0',
      nar_size: top.nar.length,
      pushed_by: { user: 'alice', token: 'ci-runner' },
      pulled_from: null,
      closure: { paths: 3, nar_size: top.nar.length + mid.nar.length + dep.nar.length },
      referrers: 0,
    });
    expect(new Set(facts.references as string[])).toEqual(new Set([top, mid, dep].map((p) => `/nix/store/${p.baseName}`)));
    const extra = (await (await alice.admin(`paths/${extras[0]!.hashPart}`)).json()) as Record<string, unknown>;
    expect(extra.pushed_by).toEqual({ user: 'alice', token: 'laptop' });
    expect((await alice.admin(`paths/${'0'.repeat(32)}`)).status).toBe(404);
    expect((await alice.admin('paths/not-a-hash')).status).toBe(404);
  });

  it('shows the same provenance on the store path page', async () => {
    const b = new Browser(t.url);
    await b.signIn('alice');
    const page = await b.page(`/alice/-/packages/nix/-/cache/paths/${top.hashPart}`);
    expect(page.status).toBe(200);
    expect(textOf(section(page.html, 'nix-provenance'))).toContain('alice with the token ci-runner');
  });

  it('gives references, referrers and the closure, paged', async () => {
    const refs = (await (await alice.admin(`paths/${mid.hashPart}/references`)).json()) as Array<{ path: string; stored: boolean }>;
    expect(refs).toEqual([{ path: `/nix/store/${dep.baseName}`, hash: dep.hashPart, name: 'dep-1.0', stored: true }]);
    const referrers = await allPages(alice, `-/paths/${dep.hashPart}/referrers?limit=1`);
    expect(referrers.items.map((i) => i.name)).toEqual(['mid-1.0', 'top-1.0']);
    expect(referrers.totals[0]).toBe('2');
    const closureRes = await alice.admin(`paths/${top.hashPart}/closure?limit=2`);
    expect(closureRes.headers.get('x-closure-nar-size')).toBe(String(top.nar.length + mid.nar.length + dep.nar.length));
    const closure = await allPages(alice, `-/paths/${top.hashPart}/closure?limit=2`);
    expect(closure.items.map((i) => i.name)).toEqual(['dep-1.0', 'mid-1.0', 'top-1.0']);
    expect(closure.totals[0]).toBe('3');
  });

  it('answers who may not read the cache exactly as the narinfo does', async () => {
    const bob = await t.createUser('bob');
    const asBob = alice.as(basic('bob', await t.token(bob)));
    for (const client of [alice.as(undefined), asBob]) {
      const narinfo = await client.get(`${top.hashPart}.narinfo`);
      expect([401, 404]).toContain(narinfo.status);
      for (const rest of ['paths', `paths/${top.hashPart}`, `paths/${top.hashPart}/references`, `paths/${top.hashPart}/closure`]) {
        expect((await client.admin(rest)).status, rest).toBe(narinfo.status);
      }
    }
  });
});
