/**
 * Pushes that overlap: two clients pushing the same path at once both succeed and one
 * copy is stored; many paths pushed at once; deleting a path others reference (409,
 * or everything with ?recursive=true), also while someone pushes a referrer; and a client
 * that disconnects in the middle of a NAR leaves nothing behind and can simply retry.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { parseNarInfo } from '../../src/format/index.js';
import { CacheClient, blobFiles, eventually, makePath, rowCounts, tmpFiles, type TestCompression, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();
const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe.each(kinds)('nix cache under concurrency on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  /** A second client of Alice's (another machine, another token). */
  let alice2: CacheClient;

  const count = async (sql: string, params: unknown[] = []) => Number((await t.forge.db.dataSource.query(sql, params))[0].n);

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    const user = await t.createUser('alice');
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(user)));
    alice2 = new CacheClient(t, 'alice', basic('', await t.token(user)));
  });
  afterAll(() => t?.close());

  /** What `nix copy` does for one path: NAR, then narinfo. Returns both statuses. */
  const pushOnce = async (client: CacheClient, p: TestPath) => {
    const nar = await client.putNar(p);
    const narText = await nar.text();
    const info = await client.putNarInfo(p);
    return { nar: nar.status, info: info.status, text: narText + (await info.text()) };
  };

  it('lets two clients push the same path at once: both succeed, one copy is stored', async () => {
    // A fresh cache, so the first narinfo also creates the cache's key in the middle of the race.
    const carol = new CacheClient(t, 'carol', basic('carol', await t.token(await t.createUser('carol'))));
    const carol2 = carol.as(basic('', await t.token((await t.forge.owners.findUser('carol'))!)));
    for (const [i, compression] of (['xz', 'zstd', 'none', 'gzip', 'xz'] as TestCompression[]).entries()) {
      const p = makePath({ name: `same-path-${i}`, compression });
      const results = await Promise.all([pushOnce(carol, p), pushOnce(carol2, p), pushOnce(carol, p)]);
      for (const r of results) {
        expect(r.nar, r.text).toBe(201);
        expect([200, 201], r.text).toContain(r.info);
      }
      expect(results.filter((r) => r.info === 201).length, 'exactly one narinfo PUT created the path').toBe(1);
      const sha = sha256Hex(p.file);
      expect(await count(`SELECT count(*)::int AS n FROM package_blob WHERE sha256 = $1`, [sha])).toBe(1);
      expect((await blobFiles(t)).filter((f) => f.endsWith(sha))).toHaveLength(1);
      expect(await count(`SELECT count(*)::int AS n FROM nix_store_path WHERE hash_part = $1`, [p.hashPart])).toBe(1);
      expect(await count(`SELECT count(*)::int AS n FROM package_version WHERE version = $1`, [p.baseName])).toBe(1);
      expect(await count(`SELECT count(*)::int AS n FROM package_owner_file WHERE key = $1`, [`nar/${p.fileName}`])).toBe(1);
      const served = parseNarInfo(await carol.narinfo(p.hashPart));
      expect(served.sigs).toHaveLength(1);
    }
    expect(await count(`SELECT count(*)::int AS n FROM owner_key k JOIN owner o ON o.id = k.owner_id WHERE o.name = 'carol'`)).toBe(1);
    expect(await tmpFiles(t)).toEqual([]);
  });

  it('takes the same NAR and then the same narinfo from several clients at exactly the same time', async () => {
    const p = makePath({ name: 'lockstep', compression: 'zstd' });
    const nars = await Promise.all([alice.putNar(p), alice2.putNar(p), alice.putNar(p), alice2.putNar(p)]);
    expect(nars.map((r) => r.status)).toEqual([201, 201, 201, 201]);
    const infos = await Promise.all([alice.putNarInfo(p), alice2.putNarInfo(p), alice.putNarInfo(p), alice2.putNarInfo(p)]);
    expect(infos.map((r) => r.status).sort()).toEqual([200, 200, 200, 201]);
    expect(await count(`SELECT count(*)::int AS n FROM nix_store_path WHERE hash_part = $1`, [p.hashPart])).toBe(1);
    expect(await count(`SELECT count(*)::int AS n FROM package_blob WHERE sha256 = $1`, [sha256Hex(p.file)])).toBe(1);
  });

  it('takes many different paths pushed at once', async () => {
    const before = await count(`SELECT count(*)::int AS n FROM nix_store_path`);
    const base = makePath({ name: 'base-lib', compression: 'zstd' });
    await alice.push(base);
    const compressions: TestCompression[] = ['xz', 'zstd', 'none', 'gzip'];
    const paths = Array.from({ length: 24 }, (_, i) =>
      makePath({ name: `many-${i}`, compression: compressions[i % 4]!, references: [base], selfReference: i % 2 === 0 }),
    );
    const results = await Promise.all(paths.map((p, i) => pushOnce(i % 2 ? alice : alice2, p)));
    for (const r of results) expect([r.nar, r.info], r.text).toEqual([201, 201]);
    expect(await count(`SELECT count(*)::int AS n FROM nix_store_path`)).toBe(before + 25);
    const served = await Promise.all(paths.map((p) => alice.as(undefined).get(`${p.hashPart}.narinfo`)));
    expect(served.map((r) => r.status)).toEqual(paths.map(() => 200));
    expect(await count(`SELECT count(*)::int AS n FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id WHERE r.ref_hash = $1`, [base.hashPart])).toBe(24);
    expect(await tmpFiles(t)).toEqual([]);
  });

  describe('deleting paths others reference', () => {
    it('refuses (409, naming a referrer) unless asked to delete recursively', async () => {
      const lib = makePath({ name: 'del-lib', compression: 'zstd', selfReference: true });
      const tool = makePath({ name: 'del-tool', references: [lib] });
      const app = makePath({ name: 'del-app', compression: 'gzip', references: [tool, lib], selfReference: true });
      const unrelated = makePath({ name: 'del-unrelated' });
      await alice.push(lib, tool, app, unrelated);

      const refused = await alice.delete(`${lib.hashPart}.narinfo`);
      expect(refused.status).toBe(409);
      expect(await refused.text()).toMatch(new RegExp(`${lib.baseName} is referenced by .*(${tool.baseName}|${app.baseName}).*recursive=true`));
      const refusedToo = await alice.delete(`${tool.hashPart}.narinfo`);
      expect(refusedToo.status).toBe(409);
      expect(await refusedToo.text()).toContain(app.baseName);
      for (const p of [lib, tool, app]) expect((await alice.get(`${p.hashPart}.narinfo`)).status).toBe(200);

      // A path only referenced by itself goes on its own.
      const top = await alice.delete(`${app.hashPart}.narinfo`);
      expect(top.status).toBe(200);
      await alice.push(app);

      const rows = await rowCounts(t);
      const recursive = await alice.fetch(`${lib.hashPart}.narinfo?recursive=true`, { method: 'DELETE' });
      expect(recursive.status).toBe(200);
      const text = await recursive.text();
      for (const p of [lib, tool, app]) {
        expect(text).toContain(`deleted /nix/store/${p.baseName}`);
        expect((await alice.get(`${p.hashPart}.narinfo`)).status).toBe(404);
        expect((await alice.head(p.url)).status).toBe(404);
        expect((await alice.get(`${p.hashPart}.ls`)).status).toBe(404);
      }
      expect(text).not.toContain(unrelated.baseName);
      expect((await alice.get(`${unrelated.hashPart}.narinfo`)).status).toBe(200);
      const after = await rowCounts(t);
      expect(after.nix_store_path).toBe(rows.nix_store_path - 3);
      expect(after.package_version).toBe(rows.package_version - 3);
      expect(after.nix_reference).toBe(rows.nix_reference - 5);
      // The NARs and listings the cache held for them (two owner files each) are gone too.
      expect(after.package_owner_file).toBe(rows.package_owner_file - 6);
      // Pushing them again works.
      await alice.push(lib, tool, app);
    });

    it('never leaves a narinfo whose reference was deleted while it was pushed', async () => {
      for (let i = 0; i < 6; i++) {
        const dep = makePath({ name: `race-dep-${i}`, compression: 'zstd' });
        await alice.push(dep);
        const user = makePath({ name: `race-user-${i}`, compression: 'zstd', references: [dep] });
        expect((await alice.putNar(user)).status).toBe(201);
        const [del, put] = await Promise.all([alice2.delete(`${dep.hashPart}.narinfo`), alice.putNarInfo(user)]);
        const outcome = `${del.status} ${put.status}: ${await del.text()} ${await put.text()}`;
        if (del.status === 200) {
          expect(put.status, outcome).toBe(400);
          expect((await alice.get(`${user.hashPart}.narinfo`)).status).toBe(404);
        } else {
          expect([del.status, put.status], outcome).toEqual([409, 201]);
          expect((await alice.get(`${dep.hashPart}.narinfo`)).status).toBe(200);
        }
      }
    });
  });

  it('never serves a narinfo whose NAR is gone when a path is deleted while it is pushed again', async () => {
    for (let i = 0; i < 12; i++) {
      const p = makePath({ name: `delete-vs-push-${i}`, compression: 'zstd' });
      await alice.push(p);
      // nix copy skips the NAR when HEAD says it is there, then PUTs the narinfo.
      const [del, put] = await Promise.all([alice2.delete(`${p.hashPart}.narinfo`), alice.putNarInfo(p)]);
      const text = `${del.status} ${put.status}: ${await del.text()} ${await put.text()}`;
      expect(del.status, text).toBe(200);
      expect([200, 201, 400], text).toContain(put.status);
      const info = await alice.get(`${p.hashPart}.narinfo`);
      const nar = await alice.head(p.url);
      if (info.status === 200) expect(nar.status, `narinfo served after: ${text}`).toBe(200);
      else expect(info.status).toBe(404);
    }
  });

  describe('a client that disconnects in the middle of a NAR', () => {
    /** Sends the headers and part of the body, then destroys the socket. */
    const cutOff = (p: TestPath, sendBytes: number) =>
      new Promise<void>((resolve) => {
        const req = http.request(`${alice.base}/nar/${p.fileName}`, {
          method: 'PUT',
          headers: { authorization: alice.authorization!, 'content-type': 'application/x-nix-nar', 'content-length': String(p.file.length) },
        });
        req.on('error', () => resolve());
        req.on('close', () => resolve());
        req.on('response', (res) => {
          res.resume();
          resolve();
        });
        req.write(p.file.subarray(0, sendBytes), () => setTimeout(() => req.destroy(), 50));
      });

    it('leaves no row and no temp file, and the same upload then succeeds', async () => {
      for (const compression of ['xz', 'zstd', 'none'] as TestCompression[]) {
        // Incompressible contents, so the upload is large whatever the compression.
        const p = makePath({
          name: `cut-${compression}`,
          compression,
          tree: { type: 'regular', contents: randomBytes(768 * 1024) },
        });
        const before = await rowCounts(t);
        // More cut-off uploads than the server decodes at once: none may keep its slot.
        for (let i = 0; i < 6; i++) await cutOff(p, Math.floor(p.file.length / 3));
        await eventually(async () => expect(await tmpFiles(t)).toEqual([]));
        expect(await rowCounts(t)).toEqual(before);
        expect((await alice.head(p.url)).status).toBe(404);
        expect((await alice.head(`${p.hashPart}.narinfo`)).status).toBe(404);

        await alice.push(p);
        const res = await alice.get(p.url);
        expect(Buffer.from(await res.arrayBuffer()).equals(p.file)).toBe(true);
        expect(await tmpFiles(t)).toEqual([]);
      }
    });
  });
});
