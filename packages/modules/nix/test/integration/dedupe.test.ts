/**
 * Invisible dedupe: owners who push the same NAR bytes share one blob (one row, one file
 * on disk), but nobody sees another owner's NAR or path through their own cache: `HEAD
 * nar/X` in Bob's cache is 404 until Bob uploaded X himself, and Bob's narinfos cannot
 * point at Alice's NARs or reference Alice's paths.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { parseNarInfo, parsePublicKey, verifySignature, fingerprintPath } from '../../src/format/index.js';
import { CacheClient, blobFiles, expect400, expectNothingLeft, makePath, tmpFiles, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();
const sha256Hex = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe.each(kinds)('nix dedupe across owners on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  let bob: CacheClient;
  let shared: TestPath;

  const blobRows = async (sha: string) =>
    Number((await t.forge.db.dataSource.query(`SELECT count(*)::int AS n FROM package_blob WHERE sha256 = $1`, [sha]))[0].n);

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(await t.createUser('alice'))));
    bob = new CacheClient(t, 'bob', basic('bob', await t.token(await t.createUser('bob'))));
    expect((await bob.put('nix-cache-info', 'StoreDir: /nix/store\n', 'text/x-nix-cache-info')).status).toBe(204);
    shared = makePath({ name: 'shared-1.0', compression: 'xz' });
    await alice.push(shared);
  });
  afterAll(() => t?.close());

  it('does not show Alice\'s NAR or path in Bob\'s cache', async () => {
    for (const who of [bob, bob.as(undefined)]) {
      expect((await who.head(shared.url)).status).toBe(404);
      expect((await who.get(shared.url)).status).toBe(404);
      expect((await who.get(shared.url, { range: 'bytes=0-' })).status).toBe(404);
      expect((await who.head(`${shared.hashPart}.narinfo`)).status).toBe(404);
      expect((await who.get(`${shared.hashPart}.ls`)).status).toBe(404);
    }
    // Same answer as for a NAR nobody has.
    const nobody = makePath({ compression: 'xz' });
    expect((await (await bob.get(shared.url)).text()).replace(shared.fileName, 'X')).toBe((await (await bob.get(nobody.url)).text()).replace(nobody.fileName, 'X'));
  });

  it('refuses Bob\'s narinfo for the path while only Alice has its NAR', async () => {
    await expectNothingLeft(t, async () => {
      await expect400(bob.putNarInfo(shared), /not been uploaded/);
    });
  });

  it('keeps one blob (one row, one file on disk) when Bob pushes the same bytes, and serves it to both', async () => {
    const sha = sha256Hex(shared.file);
    expect(await blobRows(sha)).toBe(1);
    await bob.push(shared);
    expect(await blobRows(sha)).toBe(1);
    expect((await blobFiles(t)).filter((f) => f.endsWith(sha))).toHaveLength(1);
    expect(await tmpFiles(t)).toEqual([]);
    for (const owner of [alice, bob]) {
      const res = await owner.as(undefined).get(shared.url);
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(shared.file)).toBe(true);
      // Each cache signs with its own key.
      const key = parsePublicKey(await owner.publicKey());
      const info = parseNarInfo(await owner.narinfo(shared.hashPart));
      const sig = info.sigs.find((s) => s.startsWith(`${key.name}:`));
      expect(sig && verifySignature(fingerprintPath(info), sig, key)).toBe(true);
      expect(info.sigs).toHaveLength(1);
    }
  });

  it('lets Bob reference only paths in his own cache', async () => {
    const alicesOnly = makePath({ name: 'alices-lib' });
    await alice.push(alicesOnly);
    const bobs = makePath({ name: 'bobs-app', references: [alicesOnly] });
    expect((await bob.putNar(bobs)).status).toBe(201);
    await expectNothingLeft(t, async () => {
      await expect400(bob.putNarInfo(bobs), new RegExp(`References not in this cache: ${alicesOnly.baseName}`));
    });
    // A path both have is fine.
    const onShared = makePath({ name: 'bobs-tool', references: [shared] });
    await bob.push(onShared);
  });

  it('keeps Bob\'s copy when Alice deletes hers', async () => {
    const sha = sha256Hex(shared.file);
    expect((await alice.delete(`${shared.hashPart}.narinfo`)).status).toBe(200);
    expect((await alice.get(shared.url)).status).toBe(404);
    expect((await alice.get(`${shared.hashPart}.narinfo`)).status).toBe(404);
    const res = await bob.get(shared.url);
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(shared.file)).toBe(true);
    expect(await bob.narinfo(shared.hashPart)).toContain(`StorePath: /nix/store/${shared.baseName}\n`);
    expect(await blobRows(sha)).toBe(1);
    expect((await blobFiles(t)).filter((f) => f.endsWith(sha))).toHaveLength(1);
  });
});
