/**
 * Upstream caches with the real Nix 2.8 and no internet: a `nix copy --to file://` cache
 * signed with a generated key, served by nginx on loopback, stands in for cache.nixos.org.
 * A closure half of which is "upstream" is pushed: only the other half is stored; a fresh
 * client substitutes the whole closure through the cache; the upstream going down gives
 * misses, not errors; pull-through stores what a client fetched so it survives the upstream.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { nixModule } from '@forge/module-nix';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { freePort, requireNginx, startNginx, type RunningNginx } from '../support/nginx/index.js';
import {
  buildClosure,
  copyTo,
  createNixClient,
  deleteLocal,
  fileStoreUrl,
  generateKey,
  realiseFromSubstituter,
  requireNix,
  validPaths,
  type BuiltClosure,
  type NixClient,
  type SigningKey,
} from '../support/nix/index.js';

const nix = requireNix();
const nginxThere = nix.available && requireNginx();
const kinds = nginxThere ? await testDatabaseKinds() : ['pglite' as const];

const hashOf = (storePath: string) => path.basename(storePath).slice(0, 32);

describe.runIf(nix.available && nginxThere).each(kinds)('upstream caches with Nix 2.8 on %s', (kind) => {
  let dir: string;
  let t: TestServer;
  let upstream: RunningNginx | undefined;
  let upstreamPort: number;
  let upstreamUrl: string;
  let upstreamKey: SigningKey;
  let pusher: NixClient;
  let token: string;
  let serverKey: string;
  const built: string[] = [];

  async function startUpstream(): Promise<void> {
    upstream = await startNginx({
      dir: path.join(dir, 'nginx'),
      waitForPort: upstreamPort,
      httpBlocks: `server { listen 127.0.0.1:${upstreamPort}; root ${path.join(dir, 'upstream')}; }`,
    });
  }

  async function stopUpstream(): Promise<void> {
    await upstream?.stop();
    upstream = undefined;
  }

  /** A closure whose `base` and `lib` are upstream only; `tool` and `app` are the user's own. */
  async function closureHalfUpstream(tag: string): Promise<{ closure: BuiltClosure; upstreamPaths: string[]; ownPaths: string[]; app: string }> {
    const closure = await buildClosure(pusher, [
      { name: `${tag}-base`, size: 40_000, files: 2, content: 'text' },
      { name: `${tag}-lib`, size: 30_000, content: 'binary', references: [`${tag}-base`] },
      { name: `${tag}-tool`, size: 20_000, bin: true, references: [`${tag}-lib`] },
      { name: `${tag}-app`, size: 25_000, content: 'mixed', references: [`${tag}-tool`, `${tag}-base`] },
    ]);
    built.push(...closure.outPaths, ...closure.drvPaths);
    const upstreamPaths = [closure.byName[`${tag}-base`]!.outPath, closure.byName[`${tag}-lib`]!.outPath];
    const ownPaths = [closure.byName[`${tag}-tool`]!.outPath, closure.byName[`${tag}-app`]!.outPath];
    // The upstream's half, signed by the upstream's key, as cache.nixos.org's would be.
    pusher.assertOk(await copyTo(pusher, fileStoreUrl(path.join(dir, 'upstream')), upstreamPaths, { compression: 'xz', secretKeyFile: upstreamKey.secretKeyFile }));
    return { closure, upstreamPaths, ownPaths, app: closure.byName[`${tag}-app`]!.outPath };
  }

  const api = (p: string, init: RequestInit = {}) =>
    fetch(`${t.url}/api/packages/alice/nix${p}`, { ...init, headers: { authorization: `token ${token}`, ...(init.headers ?? {}) } });

  async function setUpstreams(upstreams: unknown[]): Promise<Response> {
    return api('/-/settings', { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ upstreams }) });
  }

  async function stored(): Promise<Set<string>> {
    const res = await api('/-/paths?limit=200');
    expect(res.status).toBe(200);
    return new Set(((await res.json()) as Array<{ path: string }>).map((p) => p.path));
  }

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'forge-upstreams-'));
    upstreamPort = await freePort();
    upstreamUrl = `http://127.0.0.1:${upstreamPort}`;
    // After an upstream error the server rests that upstream (30 s by default); 1 s here, so
    // the tests after the outage find it again.
    t = await startTestServer({ db: kind, modules: [nixModule({ upstreams: { allow: [upstreamUrl], limits: { timeoutMs: 2_000, backoffMs: 1_000 } } })] });
    const alice = await t.createUser('alice');
    token = await t.token(alice, ['read:package', 'write:package'], { name: 'laptop' });
    pusher = createNixClient({ dir: path.join(dir, 'pusher'), netrc: [{ machine: '127.0.0.1', password: token }] });
    upstreamKey = await generateKey(pusher, 'upstream.test-1');
    await startUpstream();
    const res = await setUpstreams([{ url: upstreamUrl, publicKeys: [upstreamKey.publicKey] }]);
    expect(res.status, await res.clone().text()).toBe(200);
    serverKey = (await (await api('/-/public-key')).text()).trim();
  });

  afterAll(async () => {
    if (pusher) await deleteLocal(pusher, built);
    await stopUpstream();
    await t?.close();
    if (dir && !process.env.FORGE_E2E_KEEP) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an upstream URL the administrator did not allow (SSRF) and a list without keys', async () => {
    const before = (await (await api('/-/settings')).json()) as { upstreams: unknown[] };
    for (const bad of [
      [{ url: 'http://169.254.169.254/latest', publicKeys: [upstreamKey.publicKey] }],
      [{ url: 'https://cache.nixos.org', publicKeys: [upstreamKey.publicKey] }],
      [{ url: upstreamUrl, publicKeys: [] }],
      [{ url: upstreamUrl, publicKeys: ['not a key'] }],
      [{ url: upstreamUrl, publicKeys: [upstreamKey.publicKey], mode: 'mirror' }],
    ]) {
      const res = await setUpstreams(bad);
      expect(res.status, JSON.stringify(bad)).toBe(400);
    }
    const after = (await (await api('/-/settings')).json()) as { upstreams: unknown[] };
    expect(after.upstreams).toEqual(before.upstreams);
    expect(after.upstreams).toHaveLength(1);
    const [u] = after.upstreams as Array<Record<string, unknown>>;
    // The settings API moves to snake_case (issue 14); either spelling of the keys.
    expect({ url: u!.url, keys: u!.public_keys ?? u!.publicKeys, mode: u!.mode }).toEqual({ url: upstreamUrl, keys: [upstreamKey.publicKey], mode: 'skip' });
  });

  it('nix copy stores only the half the upstream lacks; a fresh machine substitutes the whole closure through the cache', async () => {
    const { closure, upstreamPaths, ownPaths, app } = await closureHalfUpstream('skip');
    const pushed = await copyTo(pusher, `${t.url}/api/packages/alice/nix`, [app], { compression: 'zstd' });
    pusher.assertOk(pushed);
    const inCache = await stored();
    for (const p of ownPaths) expect(inCache.has(p), p).toBe(true);
    for (const p of upstreamPaths) expect(inCache.has(p), p).toBe(false);

    // The upstream path is answered with the upstream's signature and a redirecting NAR URL.
    const narinfo = await (await api(`/${hashOf(upstreamPaths[0]!)}.narinfo`)).text();
    expect(narinfo).toContain(`StorePath: ${upstreamPaths[0]}\n`);
    expect(narinfo).toMatch(/^URL: upstream\/\d+\/[0-9a-z]{32}\/nar\/[0-9a-z]{52}\.nar\.xz$/m);
    expect(narinfo).toContain(`Sig: ${upstreamKey.name}:`);
    expect(narinfo).not.toContain(`Sig: ${serverKey.split(':')[0]}:`);
    const narUrl = /^URL: (.*)$/m.exec(narinfo)![1]!;
    const redirect = await api(`/${narUrl}`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe(`${upstreamUrl}/${narUrl.replace(/^upstream\/\d+\/[0-9a-z]{32}\//, '')}`);

    const fresh = createNixClient({ dir: path.join(dir, 'fresh'), netrc: [{ machine: '127.0.0.1', password: token }] });
    await deleteLocal(fresh, closure.outPaths);
    const got = await realiseFromSubstituter(fresh, [app], { substituter: `${t.url}/api/packages/alice/nix`, trustedPublicKeys: [serverKey, upstreamKey.publicKey] });
    fresh.assertOk(got);
    expect(await validPaths(fresh, closure.outPaths)).toEqual(closure.outPaths);
  });

  it('a narinfo whose upstream signature does not verify with the configured key is a miss, and the path is uploaded', async () => {
    const other = await generateKey(pusher, 'impostor-1');
    const closure = await buildClosure(pusher, [{ name: 'unsigned-dep', size: 5_000 }, { name: 'unsigned-top', size: 5_000, references: ['unsigned-dep'] }]);
    built.push(...closure.outPaths, ...closure.drvPaths);
    const dep = closure.byName['unsigned-dep']!.outPath;
    pusher.assertOk(await copyTo(pusher, fileStoreUrl(path.join(dir, 'upstream')), [dep], { secretKeyFile: other.secretKeyFile }));
    expect((await api(`/${hashOf(dep)}.narinfo`)).status).toBe(404);
    pusher.assertOk(await copyTo(pusher, `${t.url}/api/packages/alice/nix`, [closure.byName['unsigned-top']!.outPath]));
    const inCache = await stored();
    expect(inCache.has(dep)).toBe(true);
  });

  it('with the upstream down, its paths are misses (never 5xx, within the timeout) and a push stores the whole closure', async () => {
    const { closure, upstreamPaths, app } = await closureHalfUpstream('down');
    await stopUpstream();
    try {
      const started = Date.now();
      const res = await api(`/${hashOf(upstreamPaths[0]!)}.narinfo`);
      expect(res.status).toBe(404);
      // A liveness bound (the timeout is 2 s and a refused connection answers at once), not a benchmark.
      expect(Date.now() - started).toBeLessThan(30_000);
      pusher.assertOk(await copyTo(pusher, `${t.url}/api/packages/alice/nix`, [app]));
      const inCache = await stored();
      for (const p of closure.outPaths) expect(inCache.has(p), p).toBe(true);
    } finally {
      await startUpstream();
      await new Promise((r) => setTimeout(r, 1_100));
    }
  });

  it('an upstream that accepts connections and never answers costs one timeout, then misses at once', async () => {
    const silentPort = await freePort();
    const sockets: net.Socket[] = [];
    // Requests it received (their first lines); it answers none of them.
    const requests: string[] = [];
    const silent = net.createServer((s) => {
      sockets.push(s);
      s.on('data', (d) => requests.push(String(d).split('\r\n')[0]!));
    });
    await new Promise<void>((resolve) => silent.listen(silentPort, '127.0.0.1', resolve));
    const t2 = await startTestServer({ db: kind, config: { upstreamAllow: [`http://127.0.0.1:${silentPort}`], upstreamTimeoutMs: 1_000 } });
    try {
      const bob = await t2.createUser('bob');
      const bobToken = await t2.token(bob);
      const put = await fetch(`${t2.url}/api/packages/bob/nix/-/settings`, {
        method: 'PUT',
        headers: { authorization: `token ${bobToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ upstreams: [{ url: `http://127.0.0.1:${silentPort}/`, public_keys: [upstreamKey.publicKey] }] }),
      });
      expect(put.status).toBe(200);
      const ask = (hash: string) => fetch(`${t2.url}/api/packages/bob/nix/${hash}.narinfo`, { headers: { authorization: `token ${bobToken}` } });
      const first = await ask('0'.repeat(32));
      expect(first.status).toBe(404);
      expect(requests).toEqual([`GET /${'0'.repeat(32)}.narinfo HTTP/1.1`]);
      // Resting: the next paths are not asked of it at all.
      for (const c of ['1', '2', '3']) expect((await ask(c.repeat(32))).status).toBe(404);
      expect(requests).toHaveLength(1);
    } finally {
      for (const s of sockets) s.destroy();
      silent.close();
      await t2.close();
    }
  });

  it('pull-through stores a path when a client first fetches it, and it survives the upstream going away', async () => {
    const { closure, upstreamPaths, app } = await closureHalfUpstream('pull');
    const res = await setUpstreams([{ url: upstreamUrl, publicKeys: [upstreamKey.publicKey], mode: 'pull-through' }]);
    expect(res.status).toBe(200);
    pusher.assertOk(await copyTo(pusher, `${t.url}/api/packages/alice/nix`, [app]));
    for (const p of upstreamPaths) expect((await stored()).has(p)).toBe(false);

    const fresh = createNixClient({ dir: path.join(dir, 'fresh-pull'), netrc: [{ machine: '127.0.0.1', password: token }] });
    const options = { substituter: `${t.url}/api/packages/alice/nix`, trustedPublicKeys: [serverKey, upstreamKey.publicKey] };
    await deleteLocal(fresh, closure.outPaths);
    fresh.assertOk(await realiseFromSubstituter(fresh, [app], options));

    // The server stores them in the background; wait until both are the cache's own.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const s = await stored();
      if (upstreamPaths.every((p) => s.has(p))) break;
      if (Date.now() > deadline) throw new Error('pull-through did not store the upstream paths');
      await new Promise((r) => setTimeout(r, 200));
    }
    const narinfo = await (await api(`/${hashOf(upstreamPaths[0]!)}.narinfo`)).text();
    expect(narinfo).toMatch(/^URL: nar\//m);
    expect(narinfo).toContain(`Sig: ${upstreamKey.name}:`);
    const facts = (await (await api(`/-/paths/${hashOf(upstreamPaths[0]!)}`)).json()) as { pulled_from: string | null; pushed_by: unknown };
    expect(facts.pulled_from).toBe(upstreamUrl);
    expect(facts.pushed_by).toBeNull();

    await stopUpstream();
    try {
      const again = createNixClient({ dir: path.join(dir, 'after-outage'), netrc: [{ machine: '127.0.0.1', password: token }] });
      await deleteLocal(again, closure.outPaths);
      again.assertOk(await realiseFromSubstituter(again, [app], options));
      expect(await validPaths(again, closure.outPaths)).toEqual(closure.outPaths);
    } finally {
      await startUpstream();
      await setUpstreams([{ url: upstreamUrl, publicKeys: [upstreamKey.publicKey] }]);
    }
  });
});
