/**
 * Garbage collection with the stock Nix 2.8 client (docs/garbage-collection.md): push two
 * closures, pin one, expire both, the dry run lists exactly the unpinned closure, the
 * collection removes it, the pinned closure still substitutes trusting only the server's
 * key, the other's narinfos are 404 and its NAR files leave the disk after the blob grace;
 * and collections running in a loop while `nix copy` pushes a closure leave that closure
 * complete and substitutable.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { buildClosure, copyTo, createNixClient, deleteLocal, realiseFromSubstituter, requireNix, type BuiltClosure, type NixClient, type PathSpec } from '../support/nix/index.js';

const nix = requireNix();
const kinds = nix.available ? await testDatabaseKinds() : ['pglite' as const];

const spec = (tag: string): PathSpec[] => [
  { name: `${tag}-lib`, size: 20_000, files: 2, content: 'text' },
  { name: `${tag}-tool`, size: 8_000, content: 'binary', bin: true, references: [`${tag}-lib`] },
  { name: `${tag}-app`, size: 30_000, content: 'mixed', bin: true, references: [`${tag}-tool`, `${tag}-lib`], selfReference: true },
];

describe.runIf(nix.available).each(kinds)('garbage collection with Nix 2.8 on %s', (kind) => {
  let t: TestServer;
  let dir: string;
  let client: NixClient;
  let cacheUrl: string;
  let auth: string;
  let kept: BuiltClosure;
  let expired: BuiltClosure;
  let racing: BuiltClosure;
  let siblings: BuiltClosure;
  const built: string[] = [];
  const hashOf = (p: string) => path.basename(p).slice(0, 32);
  const q = (sql: string, params: unknown[] = []) => t.forge.db.dataSource.query(sql, params);
  const api = (rest: string, method = 'GET', json?: unknown) =>
    fetch(`${cacheUrl}/-/${rest}`, { method, headers: { authorization: auth, ...(json ? { 'content-type': 'application/json' } : {}) }, body: json ? JSON.stringify(json) : undefined });
  const gc = async (dryRun: boolean) => {
    const res = await api('gc', 'POST', { dryRun });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as { paths: Array<{ store_path: string | null; reason: string }>; bytes: number };
  };
  /**
   * Makes every path look last used 60 days ago. A dry run first: a collection writes the
   * server's pending reads (nix copy's narinfo queries, batched for 10 s) before it plans.
   */
  const expire = async () => {
    await gc(true);
    await q(`UPDATE nix_store_path SET created_at = now() - interval '60 days', last_accessed_at = now() - interval '60 days'`);
  };
  const danglingReferences = () =>
    q(`SELECT p.hash_part, r.ref_hash FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id
       WHERE NOT EXISTS (SELECT 1 FROM nix_store_path d WHERE d.owner_id = r.owner_id AND d.hash_part = r.ref_hash)`);

  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { cleanupIntervalMs: 0 } });
    const alice = await t.createUser('alice');
    const token = await t.token(alice, ['read:package', 'write:package']);
    auth = 'Basic ' + Buffer.from(`alice:${token}`).toString('base64');
    dir = mkdtempSync(path.join(tmpdir(), 'forge-nix-gc-'));
    client = createNixClient({ dir: path.join(dir, 'client'), netrc: [{ machine: '127.0.0.1', password: token }] });
    cacheUrl = `${t.url}/api/packages/alice/nix`;
    kept = await buildClosure(client, spec('gc-kept'));
    expired = await buildClosure(client, spec('gc-expired'));
    racing = await buildClosure(client, spec('gc-racing'));
    siblings = await buildClosure(client, [
      { name: 'gc-shared', size: 10_000, content: 'text' },
      { name: 'gc-read', size: 10_000, content: 'text', references: ['gc-shared'] },
      { name: 'gc-unread', size: 10_000, content: 'text', references: ['gc-shared'] },
      { name: 'gc-big-old', size: 50_000, content: 'binary' },
    ]);
    for (const c of [kept, expired, racing, siblings]) built.push(...c.outPaths, ...c.drvPaths);
  });

  afterAll(async () => {
    if (client) await deleteLocal(client, built);
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('pins one of two pushed closures; after they expire the dry run lists exactly the other, and the collection removes it', async () => {
    for (const c of [kept, expired]) {
      const pushed = await copyTo(client, cacheUrl, c.roots, { compression: 'zstd' });
      expect(pushed.code, pushed.stderr).toBe(0);
    }
    const app = kept.byName['gc-kept-app']!.outPath;
    expect((await api('pins/release', 'PUT', { store_path: app })).status).toBe(201);
    await expire();
    expect((await api('settings', 'PUT', { retention: '30d' })).status).toBe(200);
    const expiredBlobs: string[] = (
      await q(`SELECT b.sha256 FROM nix_store_path p JOIN package_blob b ON b.id = p.nar_blob_id WHERE p.hash_part = ANY($1::char(32)[])`, [expired.outPaths.map(hashOf)])
    ).map((r: { sha256: string }) => r.sha256.trim());
    expect(expiredBlobs).toHaveLength(3);

    const dry = await gc(true);
    expect(dry.paths.map((p) => p.store_path).sort()).toEqual([...expired.outPaths].sort());
    expect(dry.paths.every((p) => p.reason === 'retention')).toBe(true);
    const wet = await gc(false);
    expect(wet.paths.map((p) => p.store_path).sort()).toEqual([...expired.outPaths].sort());
    expect(wet.bytes).toBe(dry.bytes);

    for (const p of expired.outPaths) expect((await fetch(`${cacheUrl}/${hashOf(p)}.narinfo`, { headers: { authorization: auth } })).status).toBe(404);
    // The pinned closure still substitutes, trusting only the server's key.
    const serverKey = (await (await api('public-key')).text()).trim();
    await deleteLocal(client, kept.outPaths);
    client.clearCache();
    const realised = await realiseFromSubstituter(client, [app], { substituter: cacheUrl, trustedPublicKeys: [serverKey] });
    expect(realised.code, realised.stderr).toBe(0);
    expect(realised.realised).toEqual([app]);

    // The expired closure's NAR files leave the disk once the blob grace has passed.
    const file = (sha: string) => path.join(t.dataDir, 'blobs', 'blobs', sha.slice(0, 2), sha.slice(2, 4), sha);
    await t.forge.cleanup.run({ dryRun: false, only: ['blob-sweep'] });
    for (const sha of expiredBlobs) expect(existsSync(file(sha)), 'kept within the grace').toBe(true);
    await q(`UPDATE package_blob SET created_at = now() - interval '2 hours'`);
    const swept = await t.forge.cleanup.run({ dryRun: false, only: ['blob-sweep'] });
    expect(swept!.bytes).toBeGreaterThan(0);
    for (const sha of expiredBlobs) expect(existsSync(file(sha))).toBe(false);
    expect(await danglingReferences()).toEqual([]);
  });

  it('collections in a loop while nix copy pushes a closure leave that closure complete and substitutable', async () => {
    // Garbage for the loop to chew on: the kept closure, unpinned and expired again.
    expect((await api('pins/release', 'DELETE')).status).toBe(204);
    await expire();
    let stop = false;
    let runs = 0;
    let collected = 0;
    const loop = (async () => {
      while (!stop) {
        collected += (await gc(false)).paths.length;
        runs++;
        expect(await danglingReferences()).toEqual([]);
      }
    })();
    const pushed = await copyTo(client, cacheUrl, racing.roots, { compression: 'xz' });
    stop = true;
    await loop;
    expect(pushed.code, pushed.stderr).toBe(0);
    expect(runs).toBeGreaterThan(0);
    expect(collected).toBe(kept.outPaths.length);
    expect(await danglingReferences()).toEqual([]);

    const serverKey = (await (await api('public-key')).text()).trim();
    await deleteLocal(client, racing.outPaths);
    client.clearCache();
    const realised = await realiseFromSubstituter(client, racing.roots, { substituter: cacheUrl, trustedPublicKeys: [serverKey] });
    expect(realised.code, realised.stderr).toBe(0);
    expect(realised.realised.sort()).toEqual([...racing.roots].sort());
  });

  it('a path Nix substituted recently survives while its unread sibling goes; the size limit then evicts least recently used roots only', async () => {
    // A clean slate: everything collected so far, no retention.
    expect((await api('settings', 'PUT', { retention: '1s' })).status).toBe(200);
    await expire();
    await gc(false);
    expect(Number((await q(`SELECT count(*)::int AS n FROM nix_store_path`))[0].n)).toBe(0);
    expect((await api('settings', 'PUT', { retention: '30d' })).status).toBe(200);

    client.assertOk(await copyTo(client, cacheUrl, siblings.roots, { compression: 'zstd' }));
    await expire();
    const serverKey = (await (await api('public-key')).text()).trim();
    const read = siblings.byName['gc-read']!.outPath;
    await deleteLocal(client, [read, siblings.byName['gc-shared']!.outPath]);
    client.clearCache();
    const realised = await realiseFromSubstituter(client, [read], { substituter: cacheUrl, trustedPublicKeys: [serverKey] });
    expect(realised.code, realised.stderr).toBe(0);

    const wet = await gc(false);
    // gc-read was read (and gc-shared with it, and needed by it); gc-unread and gc-big-old were not.
    expect(wet.paths.map((p) => p.store_path).sort()).toEqual([siblings.byName['gc-unread']!.outPath, siblings.byName['gc-big-old']!.outPath].sort());

    // Size limit over what is left (gc-read → gc-shared): gc-shared is the least recently
    // used, but gc-read needs it; gc-read is the root, so it goes, and then the cache fits.
    await q(`UPDATE nix_store_path SET last_accessed_at = now() - interval '2 days' WHERE hash_part = $1`, [hashOf(read)]);
    await q(`UPDATE nix_store_path SET last_accessed_at = now() - interval '3 days' WHERE hash_part = $1`, [hashOf(siblings.byName['gc-shared']!.outPath)]);
    const sizes: Array<{ hash_part: string; file_size: number }> = await q(`SELECT hash_part, file_size FROM nix_store_path`);
    const total = sizes.reduce((n, r) => n + Number(r.file_size), 0);
    expect((await api('settings', 'PUT', { retention: null, max_size: total - 1 })).status).toBe(200);
    const evicted = await gc(false);
    expect(evicted.paths.map((p) => [p.store_path, p.reason])).toEqual([[read, 'size-limit']]);
    expect(await danglingReferences()).toEqual([]);
  });
});
