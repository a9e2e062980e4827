/**
 * Upstream caches over HTTP, against an upstream made of a Node HTTP server whose answers
 * each test chooses: signed hits, misses, forged and foreign signatures, oversized,
 * redirecting, failing and hanging answers. Every failure is a miss for the client (never
 * a 5xx), the answers are memoised, references to upstream paths are accepted on publish,
 * and the upstream's NAR URL redirects.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, metricValue, scrapeMetrics, startTestServer, type TestServer } from '@forge/server/testing';
import { formatPublicKey, generateSigningKey, publicKeyOf, serializeNarInfo, signPath } from '../../src/format/index.js';
import { nixModule } from '../../src/index.js';
import { CacheClient, makePath, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();

type Answer = { status: number; body?: string | Buffer; headers?: Record<string, string> } | 'hang';

/** An upstream binary cache whose answers the test sets per path (`answers`), and which records every request. */
async function startFakeUpstream() {
  const answers = new Map<string, Answer>();
  const requests: string[] = [];
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req.url!);
    const answer = answers.get(req.url!) ?? { status: 404 };
    if (answer === 'hang') {
      hanging.push(res);
      return;
    }
    res.writeHead(answer.status, answer.headers ?? {});
    res.end(answer.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    answers,
    requests,
    close: () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const upstreamKey = generateSigningKey('upstream.example-1');
const otherKey = generateSigningKey('other.example-1');

/** A path as the upstream serves it, signed by `key`. */
function upstreamPath(name: string, key = upstreamKey, references: TestPath[] = []): TestPath & { served: string } {
  const p = makePath({ name, references });
  const info = { ...p.info, sigs: [signPath(p.info, key)] };
  return { ...p, info, served: serializeNarInfo(info) };
}

describe.each(kinds)('upstream caches on %s', (kind) => {
  let t: TestServer;
  let upstream: Awaited<ReturnType<typeof startFakeUpstream>>;
  let alice: CacheClient;
  let n = 0;

  beforeAll(async () => {
    upstream = await startFakeUpstream();
    // A rest of 1 ms after an upstream error, so that each case below is asked.
    t = await startTestServer({ db: kind, config: { metrics: true }, modules: [nixModule({ upstreams: { allow: [upstream.url], limits: { timeoutMs: 1_000, backoffMs: 1 } } })] });
  });
  afterAll(async () => {
    await t?.close();
    await upstream?.close();
  });

  // A fresh owner per test (the upstream memo is shared by URL, so each test's paths are new too).
  beforeEach(async () => {
    const name = `u${++n}`;
    const user = await t.createUser(name);
    alice = new CacheClient(t, name, basic(name, await t.token(user)));
    const res = await alice.admin('settings', { method: 'PUT', json: { upstreams: [{ url: upstream.url, public_keys: [formatPublicKey(publicKeyOf(upstreamKey))] }] } });
    expect(res.status, await res.clone().text()).toBe(200);
  });

  it('answers an upstream path with its signature and a redirecting NAR URL, memoised', async () => {
    const p = upstreamPath('upstream-hit-1.0');
    upstream.answers.set(`/${p.hashPart}.narinfo`, { status: 200, body: p.served });
    const text = await alice.narinfo(p.hashPart);
    expect(text).toContain(`Sig: ${p.info.sigs[0]}\n`);
    expect(text).toContain(`NarHash: sha256:`);
    const url = /^URL: (.*)$/m.exec(text)![1]!;
    expect(url).toMatch(new RegExp(`^upstream/\\d+/${p.hashPart}/${p.url}$`));
    // HEAD too (nix copy asks with HEAD), and no second request upstream.
    expect((await alice.head(`${p.hashPart}.narinfo`)).status).toBe(200);
    expect(upstream.requests.filter((r) => r === `/${p.hashPart}.narinfo`)).toHaveLength(1);
    const redirect = await alice.fetch(url, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(`${upstream.url}/${p.url}`);
    // An unknown upstream id or a malformed file name is a 404.
    expect((await alice.fetch(url.replace(/^upstream\/\d+/, 'upstream/999999'), { redirect: 'manual' })).status).toBe(404);
    // Another owner's cache does not answer for alice's upstreams.
    const bob = await t.createUser(`bob${n}`);
    const bobCache = new CacheClient(t, `bob${n}`, basic(`bob${n}`, await t.token(bob)));
    await bobCache.admin('settings', { method: 'PUT', json: { priority: 50 } });
    expect((await bobCache.get(`${p.hashPart}.narinfo`)).status).toBe(404);
  });

  it('misses (404, never 5xx) for a foreign or forged signature, another path, an oversized, redirecting, failing or hanging answer', async () => {
    const foreign = upstreamPath('foreign-1.0', otherKey);
    const forged = upstreamPath('forged-1.0');
    const forgedText = forged.served.replace(/NarSize: \d+/, 'NarSize: 12345');
    const other = upstreamPath('other-1.0');
    const big = upstreamPath('big-1.0');
    const cases: Array<[string, Answer]> = [
      [foreign.hashPart, { status: 200, body: foreign.served }],
      [forged.hashPart, { status: 200, body: forgedText }],
      [upstreamPath('renamed-1.0').hashPart, { status: 200, body: other.served }],
      [big.hashPart, { status: 200, body: big.served + `Deriver: ${'x'.repeat(300 * 1024)}\n` }],
      [upstreamPath('moved-1.0').hashPart, { status: 302, headers: { location: 'http://169.254.169.254/' } }],
      [upstreamPath('broken-1.0').hashPart, { status: 500, body: 'oops' }],
      [upstreamPath('garbage-1.0').hashPart, { status: 200, body: 'this is not a narinfo' }],
    ];
    const errorsBefore = metricValue((await scrapeMetrics(t)).samples, 'forge_nix_upstream_errors_total');
    for (const [hash, answer] of cases) {
      upstream.answers.set(`/${hash}.narinfo`, answer);
      const res = await alice.get(`${hash}.narinfo`);
      expect(res.status, hash).toBe(404);
      // Really asked (the rest after a failure is 1 ms here), not skipped.
      expect(upstream.requests, hash).toContain(`/${hash}.narinfo`);
      await new Promise((r) => setTimeout(r, 5));
    }
    const hang = upstreamPath('hang-1.0');
    upstream.answers.set(`/${hang.hashPart}.narinfo`, 'hang');
    expect((await alice.get(`${hang.hashPart}.narinfo`)).status).toBe(404);
    // Every case but the wrongly signed ones (a valid answer without a trusted signature is a
    // plain miss, not an upstream failure) is counted for /metrics.
    const errors = metricValue((await scrapeMetrics(t)).samples, 'forge_nix_upstream_errors_total') - errorsBefore;
    expect(errors).toBeGreaterThanOrEqual(5);
    expect(errors).toBeLessThanOrEqual(cases.length + 1);
  });

  it('accepts a narinfo whose references are upstream paths, and refuses one whose reference is nowhere', async () => {
    const dep = upstreamPath('upstream-dep-1.0');
    upstream.answers.set(`/${dep.hashPart}.narinfo`, { status: 200, body: dep.served });
    const top = makePath({ name: 'own-top-1.0', references: [dep] });
    await alice.push(top);
    const refs = await (await alice.admin(`paths/${top.hashPart}/references`)).json();
    expect(refs).toEqual([{ path: `/nix/store/${dep.baseName}`, hash: dep.hashPart, name: dep.storePath.name, stored: false }]);

    const nowhere = makePath({ name: 'nowhere-1.0' });
    const orphan = makePath({ name: 'orphan-1.0', references: [nowhere] });
    expect((await alice.putNar(orphan)).status).toBe(201);
    const res = await alice.putNarInfo(orphan);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('References not in this cache');
  });

  it('settings: the list round-trips, camelCase or snake_case, and an upstream keeps its id while its URL stays', async () => {
    const key = formatPublicKey(publicKeyOf(upstreamKey));
    const first = (await (await alice.admin('settings')).json()) as { upstreams: Array<{ id: number }> };
    const res = await alice.admin('settings', { method: 'PUT', json: { upstreams: [{ url: `${upstream.url}/`, publicKeys: [key], mode: 'pull-through' }] } });
    const body = (await res.json()) as { upstreams: Array<Record<string, unknown>> };
    expect(body.upstreams).toHaveLength(1);
    expect(body.upstreams[0]!.id).toBe(first.upstreams[0]!.id);
    expect(body.upstreams[0]!.mode).toBe('pull-through');
    expect((await alice.admin('settings', { method: 'PUT', json: { upstreams: [] } })).status).toBe(200);
    expect(((await (await alice.admin('settings')).json()) as { upstreams: unknown[] }).upstreams).toEqual([]);
    // Too many, or a URL this server does not allow.
    const many = Array.from({ length: 9 }, (_, i) => ({ url: `${upstream.url}/c${i}`, publicKeys: [key] }));
    expect((await alice.admin('settings', { method: 'PUT', json: { upstreams: many } })).status).toBe(400);
    expect((await alice.admin('settings', { method: 'PUT', json: { upstreams: [{ url: 'http://127.0.0.1:1/', publicKeys: [key] }] } })).status).toBe(400);
    expect((await alice.admin('settings', { method: 'PUT', json: { upstreams: [{ url: 'file:///etc', publicKeys: [key] }] } })).status).toBe(400);
  });
});
