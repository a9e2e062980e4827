/**
 * Storage lifecycle over HTTP (docs/garbage-collection.md): retention and size-limit
 * settings, pins with history, `POST /-/gc` (dry run and collection), orphan uploads after
 * their grace, the blob sweep freeing the disk, paths shared by two owners, and closure
 * completeness while pushes race a collection.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { blobFiles, CacheClient, makePath, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();
const DAY = 86_400_000;
const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

interface GcAnswer {
  dry_run: boolean;
  paths: Array<{ store_path: string | null; file: string | null; nar_size: number | null; bytes: number; reason: string }>;
  bytes: number;
  spared: number;
}

describe.each(kinds)('nix storage lifecycle on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  let bob: CacheClient;
  let aliceId: number;

  const q = (sql: string, params: unknown[] = []) => t.forge.db.dataSource.query(sql, params);
  /** Makes paths look last pushed and read `days` ago. */
  const age = async (days: number, ...paths: TestPath[]) =>
    q(`UPDATE nix_store_path SET created_at = now() - make_interval(days => $2), last_accessed_at = now() - make_interval(days => $2) WHERE hash_part = ANY($1::char(32)[])`, [
      paths.map((p) => p.hashPart),
      days,
    ]);
  const gc = async (client: CacheClient, dryRun: boolean): Promise<GcAnswer> => {
    const res = await client.admin('gc', { method: 'POST', json: { dry_run: dryRun } });
    expect(res.status, await res.clone().text()).toBe(200);
    return (await res.json()) as GcAnswer;
  };
  const settings = async (json: unknown) => {
    const res = await alice.admin('settings', { method: 'PUT', json });
    return { status: res.status, body: (res.status === 200 ? await res.json() : await res.text()) as Record<string, unknown> };
  };
  const storePathsOf = (answer: GcAnswer) => answer.paths.filter((p) => p.store_path).map((p) => p.store_path!).sort();
  /** 200 when the owner's cache holds the path, else 404, read from the database: a narinfo HEAD would count as a use. */
  const status = async (client: CacheClient, p: TestPath) =>
    (await q(`SELECT 1 FROM nix_store_path s JOIN owner o ON o.id = s.owner_id WHERE o.name = $1 AND s.hash_part = $2`, [client.owner, p.hashPart])).length > 0 ? 200 : 404;
  /** Every reference of every stored path is stored too (the invariant), over the whole database. */
  const danglingReferences = async () =>
    q(`SELECT p.hash_part, r.ref_hash FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id
       WHERE NOT EXISTS (SELECT 1 FROM nix_store_path d WHERE d.owner_id = r.owner_id AND d.hash_part = r.ref_hash)`);

  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { cleanupIntervalMs: 0, uploadGraceMs: 3_600_000, blobGraceMs: 3_600_000 } });
    const a = await t.createUser('alice');
    aliceId = a.id;
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(a)));
    bob = new CacheClient(t, 'bob', basic('bob', await t.token(await t.createUser('bob'))));
  });
  afterAll(() => t?.close());
  beforeEach(async () => {
    // Every test starts from an empty cache with no retention and no limit.
    await q(`DELETE FROM nix_pin`);
    await q(`DELETE FROM package_version WHERE package_id IN (SELECT id FROM package WHERE type = 'nix')`);
    await q(`DELETE FROM package_owner_file WHERE type = 'nix'`);
    expect((await settings({ retention: null, max_size: null })).status).toBe(200);
  });
  afterEach(async () => {
    expect(await danglingReferences()).toEqual([]);
  });

  it('takes retention as a duration and max_size in bytes, and refuses anything else', async () => {
    let r = await settings({ retention: '30d', max_size: 1_000_000 });
    expect(r.body).toMatchObject({ retention: '30d', max_size: 1_000_000 });
    r = await settings({ retention: '1h30m' });
    expect(r.body).toMatchObject({ retention: '1h30m', max_size: 1_000_000 });
    for (const bad of [{ retention: '30 days' }, { retention: 30 }, { retention: '60' }, { max_size: -1 }, { max_size: '1GB' }, { max_size: 1.5 }]) {
      r = await settings(bad);
      expect(r.status, JSON.stringify(bad)).toBe(400);
    }
    r = await settings({ retention: '0', max_size: null });
    expect(r.body).toMatchObject({ retention: null, max_size: null });
    const read = await (await alice.admin('settings')).json();
    expect(read).toMatchObject({ retention: null, max_size: null });
  });

  it('pins a path in the cache, moves the pin keeping its history, lists, unpins; a pinned path cannot be deleted', async () => {
    const v1 = makePath({ name: 'release-1.0', compression: 'none' });
    const v2 = makePath({ name: 'release-2.0', compression: 'none' });
    await alice.push(v1, v2);
    const pin = (name: string, storePath: unknown) => alice.admin(`pins/${name}`, { method: 'PUT', json: { store_path: storePath } });

    expect((await pin('stable', `/nix/store/${makePath().baseName}`)).status).toBe(404);
    expect((await pin('stable', '/nix/store/not-a-path')).status).toBe(400);
    expect((await pin('-bad', `/nix/store/${v1.baseName}`)).status).toBe(400);
    expect((await alice.as(undefined).admin('pins/stable', { method: 'PUT', json: { store_path: `/nix/store/${v1.baseName}` } })).status).toBe(401);

    let res = await pin('stable', `/nix/store/${v1.baseName}`);
    expect(res.status).toBe(201);
    expect((await alice.delete(`${v1.hashPart}.narinfo`)).status).toBe(409);
    res = await pin('stable', `/nix/store/${v2.baseName}`);
    expect(res.status).toBe(200);
    const moved = await res.json();
    expect(moved.store_path).toBe(`/nix/store/${v2.baseName}`);
    expect(moved.history.map((h: { store_path: string }) => h.store_path)).toEqual([`/nix/store/${v2.baseName}`, `/nix/store/${v1.baseName}`]);
    const list = await (await alice.admin('pins')).json();
    expect(list.pins.map((p: { name: string }) => p.name)).toEqual(['stable']);

    // v1 is no longer pinned: deletable.
    expect((await alice.delete(`${v1.hashPart}.narinfo`)).status).toBe(200);
    expect((await alice.admin('pins/stable', { method: 'DELETE' })).status).toBe(204);
    expect((await alice.admin('pins/stable')).status).toBe(404);
    expect((await alice.admin('pins/stable', { method: 'DELETE' })).status).toBe(404);
  });

  it('retention: a dry run lists exactly the expired closure (not what a pin keeps), and the collection removes just that', async () => {
    const base = makePath({ name: 'base-1.0', compression: 'xz' });
    const libA = makePath({ name: 'lib-a-1.0', references: [base], compression: 'zstd' });
    const appA = makePath({ name: 'app-a-1.0', references: [libA, base], compression: 'none' });
    const libB = makePath({ name: 'lib-b-1.0', references: [base], selfReference: true, compression: 'xz' });
    const appB = makePath({ name: 'app-b-1.0', references: [libB], compression: 'none' });
    await alice.push(base, libA, appA, libB, appB);
    await age(60, base, libA, appA, libB, appB);
    expect((await alice.admin(`pins/release`, { method: 'PUT', json: { store_path: `/nix/store/${appA.baseName}` } })).status).toBe(201);

    // Without retention nothing is garbage.
    expect((await gc(alice, true)).paths).toEqual([]);
    await settings({ retention: '30d' });
    const dry = await gc(alice, true);
    expect(storePathsOf(dry)).toEqual([appB, libB].map((p) => `/nix/store/${p.baseName}`).sort());
    // Referrers first: app-b before lib-b.
    expect(dry.paths.map((p) => p.store_path)).toEqual([`/nix/store/${appB.baseName}`, `/nix/store/${libB.baseName}`]);
    expect(dry.paths.every((p) => p.reason === 'retention')).toBe(true);
    expect(dry.paths.find((p) => p.store_path?.includes(libB.baseName))).toMatchObject({ nar_size: libB.nar.length, bytes: libB.file.length });
    expect(dry.bytes).toBe(appB.file.length + libB.file.length);
    // A dry run removes nothing.
    expect(await status(alice, appB)).toBe(200);

    const wet = await gc(alice, false);
    expect(wet).toMatchObject({ dry_run: false, bytes: dry.bytes, spared: 0 });
    expect(storePathsOf(wet)).toEqual(storePathsOf(dry));
    for (const p of [appB, libB]) {
      expect(await status(alice, p)).toBe(404);
      expect((await alice.head(p.url)).status).toBe(404);
    }
    for (const p of [base, libA, appA]) {
      expect(await status(alice, p)).toBe(200);
      expect((await alice.head(p.url)).status).toBe(200);
    }
    expect((await gc(alice, true)).paths).toEqual([]);
  });

  it('a path read recently survives while its unread sibling goes', async () => {
    const dep = makePath({ name: 'dep-1.0', compression: 'none' });
    const read = makePath({ name: 'read-1.0', references: [dep], compression: 'none' });
    const unread = makePath({ name: 'unread-1.0', references: [dep], compression: 'none' });
    await alice.push(dep, read, unread);
    await age(10, dep, read, unread);
    await settings({ retention: '7d' });
    expect((await alice.get(`${read.hashPart}.narinfo`)).status).toBe(200);
    const wet = await gc(alice, false);
    expect(storePathsOf(wet)).toEqual([`/nix/store/${unread.baseName}`]);
    expect(await status(alice, read)).toBe(200);
    expect(await status(alice, dep)).toBe(200);
  });

  it('a path pushed again counts as used', async () => {
    const p = makePath({ name: 'again-1.0', compression: 'none' });
    await alice.push(p);
    await age(10, p);
    await settings({ retention: '7d' });
    await alice.push(p);
    expect((await gc(alice, false)).paths).toEqual([]);
  });

  it('size limit: evicts the least recently used roots only, until the cache fits', async () => {
    const lib = makePath({ name: 'lib-1.0', compression: 'none' });
    const old = makePath({ name: 'old-app-1.0', references: [lib], compression: 'none' });
    const mid = makePath({ name: 'mid-app-1.0', compression: 'none' });
    const fresh = makePath({ name: 'fresh-app-1.0', compression: 'none' });
    await alice.push(lib, old, mid, fresh);
    // lib is the least recently used of all, but old-app needs it: old-app goes first.
    await age(9, lib);
    await age(5, old);
    await age(3, mid);
    const total = [lib, old, mid, fresh].reduce((n, p) => n + p.file.length, 0);
    await settings({ max_size: total - 1 });
    let dry = await gc(alice, true);
    expect(dry.paths.map((p) => [p.store_path, p.reason])).toEqual([[`/nix/store/${old.baseName}`, 'size-limit']]);
    await settings({ max_size: fresh.file.length });
    dry = await gc(alice, true);
    // In deletion order: the roots first, lib once old-app (its referrer) is gone.
    expect(storePathsOf(dry)).toEqual([old, mid, lib].map((p) => `/nix/store/${p.baseName}`).sort());
    expect(dry.paths.at(-1)!.store_path).toBe(`/nix/store/${lib.baseName}`);
    expect(storePathsOf(await gc(alice, false))).toEqual(storePathsOf(dry));
    expect(await status(alice, fresh)).toBe(200);
  });

  it('orphan uploads go after their grace, not before; a NAR whose narinfo came is no orphan', async () => {
    const orphan = makePath({ name: 'orphan-1.0', compression: 'xz' });
    const kept = makePath({ name: 'kept-1.0', compression: 'xz' });
    expect((await alice.putNar(orphan)).status).toBe(201);
    await alice.push(kept);
    expect((await gc(alice, true)).paths).toEqual([]);
    await q(`UPDATE package_owner_file SET created_at = now() - interval '2 hours' WHERE owner_id = $1 AND type = 'nix'`, [aliceId]);
    const dry = await gc(alice, true);
    expect(dry.paths.map((p) => [p.file, p.reason]).sort()).toEqual([
      [`ls/${orphan.fileName}`, 'orphan-upload'],
      [`nar/${orphan.fileName}`, 'orphan-upload'],
    ]);
    expect(dry.paths.find((p) => p.file?.startsWith('nar/'))).toMatchObject({ store_path: null, nar_size: orphan.nar.length, bytes: orphan.file.length });
    await gc(alice, false);
    expect((await alice.head(orphan.url)).status).toBe(404);
    expect((await alice.head(kept.url)).status).toBe(200);
    // Its narinfo now comes too late: refused, and nothing is left half-published.
    expect((await alice.putNarInfo(orphan)).status).toBe(400);
  });

  it('a collection frees the disk through the blob sweep after the blob grace; bytes another owner holds stay', async () => {
    const shared = makePath({ name: 'shared-1.0', compression: 'none' });
    const mine = makePath({ name: 'mine-1.0', compression: 'none' });
    await alice.push(shared, mine);
    await bob.push(shared);
    await age(60, shared, mine);
    await settings({ retention: '30d' });
    expect(storePathsOf(await gc(alice, false))).toEqual([mine, shared].map((p) => `/nix/store/${p.baseName}`).sort());
    expect(await status(bob, shared)).toBe(200);

    const onDisk = async (p: TestPath) => (await blobFiles(t)).some((f) => f.endsWith(sha256Hex(p.file)));
    // Within the blob grace nothing leaves the disk.
    await t.forge.cleanup.run({ dryRun: false, only: ['blob-sweep'] });
    expect(await onDisk(mine)).toBe(true);
    await q(`UPDATE package_blob SET created_at = now() - interval '2 hours'`);
    await t.forge.cleanup.run({ dryRun: false, only: ['blob-sweep'] });
    expect(await onDisk(mine)).toBe(false);
    expect(await onDisk(shared)).toBe(true);
    expect((await bob.get(shared.url)).status).toBe(200);
  });

  it('the scheduled task collects every cache and reports it; a run for one owner only touches that cache', async () => {
    const a = makePath({ name: 'a-1.0', compression: 'none' });
    const b = makePath({ name: 'b-1.0', compression: 'none' });
    await alice.push(a);
    await bob.push(b);
    await age(60, a, b);
    await settings({ retention: '30d' });
    await bob.admin('settings', { method: 'PUT', json: { retention: '30d' } });
    const bobId = (await t.forge.owners.findByName('bob'))!.id;
    const one = await t.forge.cleanup.run({ dryRun: false, ownerId: bobId });
    // Only the per-owner tasks run for one owner (the generic module's cleanup rules are one
    // too); the host-wide sweeps wait for a run of everything.
    const names = one!.tasks.map((x) => x.name);
    expect(names).toContain('nix-gc');
    expect(names).not.toContain('blob-sweep');
    expect(names).not.toContain('staging-sweep');
    expect(await status(bob, b)).toBe(404);
    expect(await status(alice, a)).toBe(200);
    const all = await t.forge.cleanup.run({ dryRun: false });
    expect(all!.tasks.find((x) => x.name === 'nix-gc')!.result!.summary).toMatch(/^1 store path and 0 orphan uploads/);
    expect(await status(alice, a)).toBe(404);
    await bob.admin('settings', { method: 'PUT', json: { retention: null } });
  });

  it('pushes racing collections never leave a narinfo without its references (each push succeeds or is refused cleanly)', async () => {
    await settings({ retention: '1d' });
    const dep = makePath({ name: 'racy-dep-1.0', compression: 'none' });
    await alice.push(dep);
    let stop = false;
    const collector = (async () => {
      let runs = 0;
      while (!stop) {
        await age(5, dep);
        await gc(alice, false);
        runs++;
      }
      return runs;
    })();
    const outcomes: number[] = [];
    for (let i = 0; i < 12; i++) {
      const user = makePath({ name: `racy-user-${i}`, references: [dep], compression: 'none' });
      // As nix copy: the reference first if the cache lacks it, then the path.
      if ((await alice.head(`${dep.hashPart}.narinfo`)).status === 404) {
        expect((await alice.putNar(dep)).status).toBe(201);
        const r = await alice.putNarInfo(dep);
        outcomes.push(r.status);
      }
      expect((await alice.putNar(user)).status).toBe(201);
      const res = await alice.putNarInfo(user);
      outcomes.push(res.status);
      if (res.status === 400) expect(await res.text()).toMatch(/References not in this cache|deleted from this cache meanwhile/);
      expect(await danglingReferences()).toEqual([]);
    }
    stop = true;
    expect(await collector).toBeGreaterThan(0);
    expect(outcomes.every((s) => [200, 201, 400].includes(s))).toBe(true);
  });
});
