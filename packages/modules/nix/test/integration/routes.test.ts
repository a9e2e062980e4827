/**
 * Every route of an owner's Nix cache over HTTP, with the statuses and headers the protocol
 * reference demands (docs/nix-binary-cache-protocol.md §7, App. B):
 * HEAD everywhere, 200/201/204 on good PUTs, 404 for what is missing, Range on NARs,
 * never a Content-Encoding on NARs, percent-decoded paths without `+` → space.
 * Fixtures are what the real Nix 2.8 wrote (`nix copy --to file://…?compression=xz&write-nar-listing=1`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { parseNarInfo, parsePublicKey, fingerprintPath, verifySignature } from '../../src/format/index.js';
import { CacheClient, FIXTURES, expect400, makePath, rawRequest, randomHashPart } from './support.js';

const kinds = await testDatabaseKinds();

const fixture = (p: string) => readFileSync(path.join(FIXTURES, p));
const TREE = '6hnkq4xdmvnjlkrdzhp9g03bk2d3jk1k';
const REF = 'v0haxhyk6qn6fs0pz57kd9rpk61qr9v3';
const DRV = '8x5qzmv9fgvfjzk23m63y4m3yw4xx18z-ref+user=x-1.0.drv';
const TREE_NAR = '0m4axhfwyk44vihlyjw69q7askjkdzh40zm39nkf4aw82pwcfrmy.nar.xz';
const REF_NAR = '1nif3ds27bq554v95ip1afbjp9lzpdcyln5zb2w6xb0dnnjkml1r.nar.xz';

describe.each(kinds)('nix cache routes on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  let anon: CacheClient;
  /** Status of every PUT that should succeed: 200, 201 or 204, never 202, 3xx or 5xx. */
  const goodPuts: Array<[string, number]> = [];

  const ok = async (what: string, res: Response | Promise<Response>) => {
    const r = await res;
    goodPuts.push([what, r.status]);
    expect([200, 201, 204], `${what}: ${r.status} ${await r.clone().text()}`).toContain(r.status);
    return r;
  };

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const user = await t.createUser('alice');
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(user)));
    anon = alice.as(undefined);
  });
  afterAll(() => t?.close());

  describe('nix-cache-info', () => {
    it('is 404 (GET and HEAD) before the cache exists, for the owner and for anonymous readers', async () => {
      for (const client of [alice, anon]) {
        expect((await client.get('nix-cache-info')).status).toBe(404);
        expect((await client.head('nix-cache-info')).status).toBe(404);
      }
    });

    it('refuses a PUT for another store directory (400) and a Priority Nix would choke on, without enabling the cache', async () => {
      await expect400(alice.put('nix-cache-info', 'StoreDir: /home/me/nix/store\n', 'text/x-nix-cache-info'), /\/nix\/store.*\/home\/me\/nix\/store|\/home\/me\/nix\/store/);
      await expect400(alice.put('nix-cache-info', 'StoreDir: /nix/store\nPriority: high\n', 'text/x-nix-cache-info'), /Priority/);
      expect((await alice.get('nix-cache-info')).status).toBe(404);
    });

    it('is enabled by the PUT Nix sends when it finds none, then served with GET and HEAD', async () => {
      await ok('PUT nix-cache-info', alice.put('nix-cache-info', 'StoreDir: /nix/store\n', 'text/x-nix-cache-info'));
      const res = await anon.get('nix-cache-info');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/x-nix-cache-info/);
      const body = await res.text();
      expect(body).toBe('StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 41\n');
      const head = await anon.head('nix-cache-info');
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(body.length));
      expect(await head.text()).toBe('');
      // A second PUT (another client with a cold cache) is fine too.
      await ok('PUT nix-cache-info again', alice.put('nix-cache-info', 'StoreDir: /nix/store\n', 'text/x-nix-cache-info'));
    });
  });

  describe('NARs and narinfos (as Nix 2.8 wrote them)', () => {
    it('takes the NARs (201) and serves them with HEAD, ranges, the right type and no Content-Encoding', async () => {
      expect((await anon.head(`nar/${TREE_NAR}`)).status).toBe(404);
      expect((await anon.get(`nar/${TREE_NAR}`)).status).toBe(404);
      const bytes = fixture(`cache-xz/nar/${TREE_NAR}`);
      await ok('PUT tree NAR', alice.put(`nar/${TREE_NAR}`, bytes, 'application/x-nix-nar'));
      await ok('PUT ref NAR', alice.put(`nar/${REF_NAR}`, fixture(`cache-xz/nar/${REF_NAR}`), 'application/x-nix-nar'));

      const head = await anon.head(`nar/${TREE_NAR}`);
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      expect(head.headers.get('accept-ranges')).toBe('bytes');
      expect(head.headers.get('content-type')).toBe('application/x-nix-nar');
      expect(head.headers.get('content-encoding')).toBeNull();

      // Raw, so nothing decodes or renegotiates on the way.
      const raw = await rawRequest(`${anon.base}/nar/${TREE_NAR}`, { headers: { 'accept-encoding': 'gzip, br, zstd, xz' } });
      expect(raw.status).toBe(200);
      expect(raw.headers['content-encoding']).toBeUndefined();
      expect(raw.headers['content-type']).toBe('application/x-nix-nar');
      expect(raw.headers['accept-ranges']).toBe('bytes');
      expect(raw.body.equals(bytes)).toBe(true);

      const ranged = await rawRequest(`${anon.base}/nar/${TREE_NAR}`, { headers: { range: 'bytes=100-' } });
      expect(ranged.status).toBe(206);
      expect(ranged.headers['content-range']).toBe(`bytes 100-${bytes.length - 1}/${bytes.length}`);
      expect(ranged.headers['content-length']).toBe(String(bytes.length - 100));
      expect(ranged.headers['content-encoding']).toBeUndefined();
      expect(ranged.body.equals(bytes.subarray(100))).toBe(true);

      const suffix = await rawRequest(`${anon.base}/nar/${TREE_NAR}`, { headers: { range: 'bytes=-10' } });
      expect(suffix.status).toBe(206);
      expect(suffix.body.equals(bytes.subarray(bytes.length - 10))).toBe(true);

      const middle = await rawRequest(`${anon.base}/nar/${TREE_NAR}`, { headers: { range: 'bytes=5-9' } });
      expect(middle.status).toBe(206);
      expect(middle.headers['content-range']).toBe(`bytes 5-9/${bytes.length}`);
      expect(middle.body.equals(bytes.subarray(5, 10))).toBe(true);

      const beyond = await rawRequest(`${anon.base}/nar/${TREE_NAR}`, { headers: { range: `bytes=${bytes.length}-` } });
      expect(beyond.status).toBe(416);
      expect(beyond.headers['content-range']).toBe(`bytes */${bytes.length}`);
    });

    it('takes their narinfos (201) and serves them signed, with GET and HEAD', async () => {
      expect((await anon.get(`${TREE}.narinfo`)).status).toBe(404);
      await ok('PUT tree narinfo', alice.put(`${TREE}.narinfo`, fixture(`cache-xz/${TREE}.narinfo`), 'text/x-nix-narinfo'));
      await ok('PUT ref narinfo', alice.put(`${REF}.narinfo`, fixture(`cache-xz/${REF}.narinfo`), 'text/x-nix-narinfo'));

      const res = await anon.get(`${REF}.narinfo`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/x-nix-narinfo');
      expect(res.headers.get('content-encoding')).toBeNull();
      const text = await res.text();
      const served = parseNarInfo(text);
      const uploaded = parseNarInfo(fixture(`cache-xz/${REF}.narinfo`));
      expect(served.storePath).toEqual(uploaded.storePath);
      expect(served.url).toBe(`nar/${REF_NAR}`);
      expect(served.compression).toBe('xz');
      expect(served.narHash).toEqual(uploaded.narHash);
      expect(served.narSize).toBe(uploaded.narSize);
      expect(served.fileHash).toEqual(uploaded.fileHash);
      expect(served.fileSize).toBe(uploaded.fileSize);
      expect(served.references.map((r) => r.baseName)).toEqual(uploaded.references.map((r) => r.baseName));
      expect(served.deriver?.baseName).toBe(DRV);
      // The uploader's signature (a key this cache does not know) is kept; the server adds its own.
      expect(served.sigs).toContain(uploaded.sigs[0]);
      const key = parsePublicKey(await alice.publicKey());
      const own = served.sigs.filter((s) => s.startsWith(`${key.name}:`));
      expect(own).toHaveLength(1);
      expect(verifySignature(fingerprintPath(served), own[0]!, key)).toBe(true);

      const head = await anon.head(`${REF}.narinfo`);
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toBe('text/x-nix-narinfo');
      expect(head.headers.get('content-length')).toBe(String(Buffer.byteLength(text)));
      expect(await head.text()).toBe('');

      // Not compressed on the way out, whatever the client accepts (Nix 2.8 decodes a
      // Content-Encoding itself and breaks on some).
      const raw = await rawRequest(`${anon.base}/${REF}.narinfo`, { headers: { 'accept-encoding': 'gzip, deflate, br, zstd' } });
      expect(raw.status).toBe(200);
      expect(raw.headers['content-encoding']).toBeUndefined();
      expect(raw.body.toString('utf8')).toBe(text);

      // CA is kept (it lets clients accept the path without a signature).
      expect(parseNarInfo(await alice.narinfo(TREE)).ca).toEqual(parseNarInfo(fixture(`cache-xz/${TREE}.narinfo`)).ca);
    });

    it('answers a missing narinfo with 404, not 401, to anyone who may read (GET and HEAD)', async () => {
      const missing = randomHashPart();
      for (const client of [anon, alice]) {
        const get = await client.get(`${missing}.narinfo`);
        expect(get.status).toBe(404);
        expect(get.headers.get('www-authenticate')).toBeNull();
        expect((await client.head(`${missing}.narinfo`)).status).toBe(404);
        expect((await client.head(`nar/${'0'.repeat(52)}.nar.xz`)).status).toBe(404);
      }
      // Not a store path hash at all (contains 'e'): 404 too.
      expect((await anon.get(`${'e'.repeat(32)}.narinfo`)).status).toBe(404);
    });

    it('deletes a narinfo (DELETE), after which the path and its NAR are gone', async () => {
      const p = makePath({ compression: 'gzip', name: 'to-delete' });
      await ok('PUT NAR (gzip)', alice.putNar(p));
      await ok('PUT narinfo', alice.putNarInfo(p));
      expect((await anon.get(p.url)).status).toBe(200);
      const del = await alice.delete(`${p.hashPart}.narinfo`);
      expect(del.status).toBe(200);
      expect(await del.text()).toContain(p.baseName);
      expect((await anon.get(`${p.hashPart}.narinfo`)).status).toBe(404);
      expect((await anon.head(`${p.hashPart}.narinfo`)).status).toBe(404);
      expect((await anon.get(p.url)).status).toBe(404);
      expect((await alice.delete(`${p.hashPart}.narinfo`)).status).toBe(404);
      expect((await anon.delete(`${p.hashPart}.narinfo`)).status).toBe(401);
    });
  });

  describe('.ls listings', () => {
    it('serves the listing the server computed, byte for byte what Nix 2.8 writes', async () => {
      for (const hash of [REF, TREE]) {
        const res = await anon.get(`${hash}.ls`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(Buffer.from(await res.arrayBuffer()).equals(fixture(`cache-xz/${hash}.ls`))).toBe(true);
        const head = await anon.head(`${hash}.ls`);
        expect(head.status).toBe(200);
        expect(head.headers.get('content-length')).toBe(String(fixture(`cache-xz/${hash}.ls`).length));
      }
      expect((await anon.get(`${randomHashPart()}.ls`)).status).toBe(404);
      expect((await anon.head(`${randomHashPart()}.ls`)).status).toBe(404);
    });

    it('accepts the listing nix copy uploads (write-nar-listing=1) and refuses one that is not a listing', async () => {
      await ok('PUT .ls', alice.put(`${REF}.ls`, fixture(`cache-xz/${REF}.ls`), 'application/json'));
      await ok('PUT .ls before its path', alice.put(`${randomHashPart()}.ls`, fixture(`cache-xz/${TREE}.ls`), 'application/json'));
      await expect400(alice.put(`${randomHashPart()}.ls`, '{"version": 1, "root": 5', 'application/json'), /listing/);
      // The served listing stays the server's own.
      expect(Buffer.from(await (await anon.get(`${REF}.ls`)).arrayBuffer()).equals(fixture(`cache-xz/${REF}.ls`))).toBe(true);
    });
  });

  describe('build logs', () => {
    const log = 'building ref+user=x-1.0\nok\n';

    it('takes a log (nix store copy-log) and gives it back, with + kept and percent-decoding', async () => {
      expect((await anon.get(`log/${DRV}`)).status).toBe(404);
      await ok('PUT log', alice.put(`log/${DRV}`, log, 'text/plain; charset=utf-8'));
      for (const url of [`log/${DRV}`, `log/${DRV.replace(/\+/g, '%2B').replace(/=/g, '%3D')}`]) {
        const res = await anon.get(url);
        expect(res.status, url).toBe(200);
        expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
        expect(res.headers.get('content-encoding')).toBeNull();
        expect(await res.text()).toBe(log);
        const head = await anon.head(url);
        expect(head.status).toBe(200);
        expect(head.headers.get('content-length')).toBe(String(log.length));
      }
      // `+` is not a space: the name with a space is another (invalid) name, never this log.
      const spaced = await anon.get(`log/${DRV.replace(/\+/g, '%20')}`);
      expect(spaced.status).not.toBe(200);
      expect(await spaced.text()).not.toBe(log);
    });

    it('keeps the Content-Encoding a log was uploaded with and serves it back with it', async () => {
      const drv = `${randomHashPart()}-gtk+3-3.24.drv`;
      const gz = gzipSync(Buffer.from('a compressed log\n'.repeat(50)));
      await ok('PUT gzip log', alice.put(`log/${drv.replace('+', '%2B')}`, gz, 'text/plain; charset=utf-8', { 'content-encoding': 'gzip' }));
      const raw = await rawRequest(`${anon.base}/log/${drv}`, {});
      expect(raw.status).toBe(200);
      expect(raw.headers['content-encoding']).toBe('gzip');
      expect(raw.body.equals(gz)).toBe(true);
      // A client that decodes (fetch does) sees the text.
      expect(await (await anon.get(`log/${drv}`)).text()).toBe('a compressed log\n'.repeat(50));
    });

    it('refuses logs for names that are not derivations (400)', async () => {
      await expect400(alice.put(`log/${randomHashPart()}-hello`, 'x', 'text/plain'), /derivation/);
      await expect400(alice.put(`log/not-a-store-path.drv`, 'x', 'text/plain'), /derivation/);
    });
  });

  describe('debuginfo, realisations and build traces', () => {
    it('takes and serves debuginfo links (index-debug-info=1)', async () => {
      const id = `ab${'0123456789abcdef0123456789abcdef012345'}.debug`;
      const body = JSON.stringify({ archive: `../nar/${TREE_NAR}`, member: `lib/debug/.build-id/ab/${id.slice(2)}` });
      expect((await anon.head(`debuginfo/${id}`)).status).toBe(404);
      await ok('PUT debuginfo', alice.put(`debuginfo/${id}`, body, 'application/json'));
      const res = await anon.get(`debuginfo/${id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.text()).toBe(body);
      expect((await anon.head(`debuginfo/${id}`)).status).toBe(200);
      await expect400(alice.put(`debuginfo/${id}`, '{"archive": 1}', 'application/json'), /debuginfo/);
      await expect400(alice.put(`debuginfo/${id}`, 'not json', 'application/json'), /JSON/);
      await expect400(alice.put('debuginfo/not-hex.debug', body, 'application/json'), /debuginfo/);
    });

    it('takes and serves realisations with ! and : raw or percent-encoded', async () => {
      const realisation = (hex: string) =>
        JSON.stringify({ dependentRealisations: {}, id: `sha256:${hex}!out`, outPath: `${randomHashPart()}-ca-out`, signatures: [] });
      const hexA = 'a'.repeat(64);
      const hexB = '0123456789abcdef'.repeat(4);
      const bodyA = realisation(hexA);
      const bodyB = realisation(hexB);
      expect((await anon.get(`realisations/sha256:${hexA}!out.doi`)).status).toBe(404);
      // Nix 2.8–2.31 send ':' and '!' raw; 2.32+ encode '!' (and may encode ':').
      await ok('PUT realisation (raw)', alice.put(`realisations/sha256:${hexA}!out.doi`, bodyA, 'application/json'));
      await ok('PUT realisation (encoded)', alice.put(`realisations/sha256%3A${hexB}%21out.doi`, bodyB, 'application/json'));
      for (const [hex, body] of [
        [hexA, bodyA],
        [hexB, bodyB],
      ] as const) {
        for (const url of [`realisations/sha256:${hex}!out.doi`, `realisations/sha256%3A${hex}%21out.doi`, `realisations/sha256:${hex}%21out.doi`]) {
          const res = await anon.get(url);
          expect(res.status, url).toBe(200);
          expect(res.headers.get('content-type')).toMatch(/^application\/json/);
          expect(await res.text()).toBe(body);
          expect((await anon.head(url)).status).toBe(200);
        }
      }
      await expect400(alice.put(`realisations/sha256:${hexA}!out.doi`, '{"id": 5}', 'application/json'), /realisation/);
      // The document must be the one its name says: another derivation's or another output's is refused.
      await expect400(alice.put(`realisations/sha256:${'c'.repeat(64)}!out.doi`, bodyA, 'application/json'), /id/);
      await expect400(alice.put(`realisations/sha256:${hexA}!dev.doi`, bodyA, 'application/json'), /id/);
      expect((await anon.get(`realisations/sha256:${'c'.repeat(64)}!out.doi`)).status).toBe(404);
      await expect400(alice.put(`realisations/md5:${hexA}!out.doi`, bodyA, 'application/json'), /realisation/);
    });

    it('takes and serves build-trace-v2 entries (Nix 2.35+)', async () => {
      const drv = `${randomHashPart()}-ca+thing.drv`;
      const body = JSON.stringify({ outPath: `${randomHashPart()}-ca+thing`, signatures: [] });
      expect((await anon.get(`build-trace-v2/${drv}/out.doi`)).status).toBe(404);
      await ok('PUT build trace', alice.put(`build-trace-v2/${drv.replace('+', '%2B')}/out.doi`, body, 'application/json'));
      for (const url of [`build-trace-v2/${drv}/out.doi`, `build-trace-v2/${drv.replace('+', '%2B')}/out.doi`]) {
        const res = await anon.get(url);
        expect(res.status).toBe(200);
        expect(await res.text()).toBe(body);
        expect((await anon.head(url)).status).toBe(200);
      }
      await expect400(alice.put(`build-trace-v2/${randomHashPart()}-x/out.doi`, body, 'application/json'), /derivation/);
    });
  });

  describe('administration under /-/', () => {
    it('describes the cache (GET settings) and changes it (PUT settings), reflected in nix-cache-info', async () => {
      const res = await anon.admin('settings');
      expect(res.status).toBe(200);
      const settings = (await res.json()) as Record<string, unknown>;
      expect(settings).toMatchObject({
        owner: 'alice',
        enabled: true,
        substituter: `${t.url}/api/packages/alice/nix`,
        priority: 41,
        visibility: 'inherit',
        effective_visibility: 'public',
        want_mass_query: true,
      });
      expect((settings.public_keys as Array<{ public_key: string; active: boolean }>).map((k) => k.public_key)).toEqual([await alice.publicKey()]);

      const changed = await alice.admin('settings', { method: 'PUT', json: { priority: 30, want_mass_query: false } });
      expect(changed.status).toBe(200);
      expect(changed.headers.get('deprecation')).toBeNull();
      expect(await changed.json()).toMatchObject({ priority: 30, want_mass_query: false });
      expect(await (await anon.get('nix-cache-info')).text()).toBe('StoreDir: /nix/store\nWantMassQuery: 0\nPriority: 30\n');
      await expect400(alice.admin('settings', { method: 'PUT', json: { priority: 'high' } }), /priority/);
      await expect400(alice.admin('settings', { method: 'PUT', json: { visibility: 'secret' } }), /visibility/);
      // The camelCase spelling of before is still accepted for a release, flagged as deprecated.
      const deprecated = await alice.admin('settings', { method: 'PUT', json: { priority: 41, wantMassQuery: true } });
      expect(deprecated.status).toBe(200);
      expect(deprecated.headers.get('deprecation')).toBe('true');
      expect(await deprecated.json()).toMatchObject({ priority: 41, want_mass_query: true });
      expect((await anon.admin('settings', { method: 'PUT', json: { priority: 1 } })).status).toBe(401);
    });

    it('serves the public key as one trusted-public-keys entry', async () => {
      const res = await anon.admin('public-key');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(await res.text()).toMatch(/^127\.0\.0\.1-\d+-alice-1:[A-Za-z0-9+/]{43}=\n$/);
    });

    it('describes a cache that does not exist yet without creating it', async () => {
      const bob = await t.createUser('bob');
      const res = await anon.of('bob').admin('settings');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ owner: 'bob', enabled: false, public_keys: [] });
      expect((await anon.of('bob').get('nix-cache-info')).status).toBe(404);
      expect((await anon.of('bob').admin('public-key')).status).toBe(404);
      void bob;
    });
  });

  it('answered every good PUT with 200, 201 or 204', () => {
    expect(goodPuts.length).toBeGreaterThan(10);
    for (const [what, status] of goodPuts) expect([200, 201, 204], what).toContain(status);
  });

  it('answers unknown files in the cache with 404', async () => {
    expect((await anon.get('nothing-here')).status).toBe(404);
    expect((await anon.head(`nar/${'0'.repeat(52)}.nar.xz`)).status).toBe(404);
    await expect400(alice.put(`nar/not-a-nar-name`, 'x', 'application/x-nix-nar'), /NAR file name/);
  });
});
