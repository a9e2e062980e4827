import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnerService } from '@forge/auth';
import { createLocalBlobStore, type LocalBlobStore } from '@forge/blob-store';
import type { StorageStatus } from '@forge/core';
import { openDatabase, type Database } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { Registry } from '@forge/registry';

const kinds = await testDatabaseKinds();

async function* bytes(data: string | Buffer) {
  yield Buffer.from(data);
}

/** What an owner holds, computed from scratch: the sum of its distinct blobs. */
async function recomputed(db: Database, ownerId: number): Promise<number> {
  const [row] = await db.dataSource.query(
    `SELECT coalesce(sum(b.size), 0)::bigint AS n FROM package_blob b WHERE b.id IN (
       SELECT blob_id FROM package_file WHERE owner_id = $1 UNION SELECT blob_id FROM package_owner_file WHERE owner_id = $1)`,
    [ownerId],
  );
  return Number(row.n);
}

describe.each(kinds)('storage accounting and quotas on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;
  let dir: string;
  let blobs: LocalBlobStore;
  let registry: Registry;
  const checked: StorageStatus[] = [];
  let owners: OwnerService;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = await openDatabase(testDb.options);
    await db.migrate();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-quota-'));
    blobs = createLocalBlobStore({ root: dir });
    registry = new Registry(db.dataSource, blobs, { onStorageChecked: (s) => checked.push(s) });
    owners = new OwnerService(db.dataSource);
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  let n = 0;
  const newUser = async () => (await owners.createUser({ username: `u${++n}-${randomBytes(3).toString('hex')}`, email: `u${n}-${randomBytes(3).toString('hex')}@x.test`, password: 'owner-passphrase-1' })).id;
  const add = async (ownerId: number, name: string, version: string, file: string, content: string | Buffer) =>
    registry.createPackageAndAddFile({ ownerId, type: 'generic', name, version, file: { name: file, blob: await registry.stageBlob(bytes(content)) } });
  const used = async (ownerId: number) => (await registry.storageStatus(ownerId)).usedBytes;

  it('charges each owner its distinct blobs once, whoever else holds the same bytes', async () => {
    const alice = await newUser();
    const bob = await newUser();
    const shared = `shared ${randomBytes(8).toString('hex')}`; // 23 bytes
    await add(alice, 'a', '1', 'one', shared);
    await add(alice, 'a', '1', 'two', shared); // the same bytes again: no more
    await add(alice, 'a', '2', 'three', 'x'.repeat(100));
    expect(await used(alice)).toBe(shared.length + 100);
    // Bob uploads the same bytes: he pays for them, Alice pays no less.
    await add(bob, 'b', '1', 'f', shared);
    expect(await used(bob)).toBe(shared.length);
    expect(await used(alice)).toBe(shared.length + 100);
    // An owner file naming a blob a version file names costs nothing more.
    const staged = await registry.stageBlob(bytes(shared));
    await registry.write((tx) => tx.putOwnerFile({ ownerId: bob, type: 'generic', key: 'k', blob: staged }), { staged: [staged] });
    expect(await used(bob)).toBe(shared.length);
    for (const id of [alice, bob]) expect(await used(id)).toBe(await recomputed(db, id));
  });

  it('gives the bytes back on every kind of removal: file, version (cascade), owner file, replaced file', async () => {
    const owner = await newUser();
    const { version: v1, file } = await add(owner, 'p', '1', 'a', 'a'.repeat(300));
    await add(owner, 'p', '1', 'b', 'b'.repeat(200));
    const { version: v2 } = await add(owner, 'p', '2', 'c', 'c'.repeat(50));
    expect(await used(owner)).toBe(550);
    await registry.write((tx) => tx.deleteFile(file.id));
    expect(await used(owner)).toBe(250);
    await registry.write((tx) => tx.deleteVersion(v1.id));
    expect(await used(owner)).toBe(50);
    // Replacing a file's blob: the old one goes, the new one comes.
    const replacement = await registry.stageBlob(bytes('d'.repeat(70)));
    await registry.write((tx) => tx.putFile({ versionId: v2.id, name: 'c', blob: replacement }), { staged: [replacement] });
    expect(await used(owner)).toBe(70);
    const log = await registry.stageBlob(bytes('e'.repeat(10)));
    await registry.write((tx) => tx.putOwnerFile({ ownerId: owner, type: 'nix', key: 'log/x', blob: log }), { staged: [log] });
    expect(await used(owner)).toBe(80);
    await registry.write((tx) => tx.deleteOwnerFile({ ownerId: owner, type: 'nix', key: 'log/x' }));
    // Raw SQL outside the registry is counted too (the triggers keep the books).
    await db.dataSource.query(`DELETE FROM package WHERE owner_id = $1`, [owner]);
    expect(await used(owner)).toBe(0);
    expect(await recomputed(db, owner)).toBe(0);
  });

  it('folds the recorded changes into the totals without changing any usage', async () => {
    const owner = await newUser();
    await add(owner, 'f', '1', 'a', 'z'.repeat(123));
    const before = await registry.storage.list({ limit: 500 });
    expect(await registry.storage.fold()).toBeGreaterThan(0);
    expect(Number((await db.dataSource.query(`SELECT count(*)::int AS n FROM owner_usage_delta`))[0].n)).toBe(0);
    const after = await registry.storage.list({ limit: 500 });
    expect(after.items.map((i) => [i.name, i.usedBytes])).toEqual(before.items.map((i) => [i.name, i.usedBytes]));
    expect(await used(owner)).toBe(123);
    for (const item of after.items) expect(item.usedBytes).toBe(await recomputed(db, item.ownerId));
  });

  it('refuses a write past the owner’s quota with 403 and a message naming the figures, and keeps nothing of it', async () => {
    const owner = await newUser();
    await registry.storage.setQuota(owner, 1000);
    await add(owner, 'q', '1', 'a', 'a'.repeat(700));
    const err = await add(owner, 'q', '1', 'b', 'b'.repeat(400)).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403, code: 'quota_exceeded' });
    expect((err as Error).message).toContain('would use 1.1 KiB of its 1000 B quota');
    expect((err as Error).message).toContain('700 bytes used, this upload adds 400, the quota is 1000');
    expect(await used(owner)).toBe(700);
    // Bytes the owner holds already cost nothing: accepted even at the limit.
    await add(owner, 'q', '2', 'again', 'a'.repeat(700));
    await add(owner, 'q', '1', 'c', 'c'.repeat(300)); // exactly the limit
    expect(await registry.storageStatus(owner)).toMatchObject({ usedBytes: 1000, limitBytes: 1000, source: 'owner', level: 'full' });
    // Unlimited, then back to the server default (none here).
    await registry.storage.setQuota(owner, null);
    await add(owner, 'q', '3', 'd', 'd'.repeat(5000));
    expect(await registry.storageStatus(owner)).toMatchObject({ limitBytes: null, source: 'owner', level: 'ok' });
    await registry.storage.setQuota(owner, 'default');
    expect(await registry.storageStatus(owner)).toMatchObject({ limitBytes: null, source: 'none' });
  });

  it('reports the usage of limited owners after each write that grew them (for the warning header)', async () => {
    const owner = await newUser();
    await registry.storage.setQuota(owner, 1000);
    checked.length = 0;
    await add(owner, 'w', '1', 'a', 'a'.repeat(850));
    expect(checked).toEqual([expect.objectContaining({ ownerId: owner, usedBytes: 850, level: 'warning' })]);
    await add(owner, 'w', '1', 'b', 'b'.repeat(110));
    expect(checked[1]).toMatchObject({ usedBytes: 960, level: 'critical' });
    // A write that adds nothing (a blob already held) reports nothing.
    await add(owner, 'w', '2', 'a', 'a'.repeat(850));
    expect(checked).toHaveLength(2);
  });

  it('lets concurrent uploads of one owner fill the quota exactly and never pass it', async () => {
    const owner = await newUser();
    await registry.storage.setQuota(owner, 1050);
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) => add(owner, 'race', String(i), 'f', Buffer.alloc(100, i + 1))),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected');
    expect(ok).toBe(10);
    expect(refused).toHaveLength(2);
    for (const r of refused) expect((r as PromiseRejectedResult).reason).toMatchObject({ status: 403 });
    expect(await used(owner)).toBe(1000);
    expect(await recomputed(db, owner)).toBe(1000);
  });

  it('refuses an upload to a full owner before reading it, and cuts one larger than the room left', async () => {
    const owner = await newUser();
    await registry.storage.setQuota(owner, 100);
    let read = 0;
    async function* counted(chunks: number) {
      for (let i = 0; i < chunks; i++) {
        read++;
        yield Buffer.alloc(64, i);
      }
    }
    // 64 bytes fit in 100; the second chunk passes the room left and stops the upload.
    await expect(registry.stageBlob(counted(1000), { ownerId: owner, maxSize: 1 << 20 })).rejects.toMatchObject({ status: 403, code: 'quota_exceeded' });
    expect(read).toBeLessThanOrEqual(3);
    await add(owner, 'full', '1', 'f', 'f'.repeat(100));
    read = 0;
    const err = await registry.stageBlob(counted(10), { ownerId: owner }).catch((e: unknown) => e);
    expect(err).toMatchObject({ status: 403 });
    expect((err as Error).message).toMatch(/uses 100 B of its 100 B quota/);
    expect(read).toBe(0);
    expect((await fs.readdir(path.join(dir, 'tmp')).catch(() => [])).length).toBe(0);
  });

  it('shows administrators the physical total against what owners are charged', async () => {
    const totals = await registry.storage.totals();
    const [row] = await db.dataSource.query(`SELECT count(*)::int AS n, coalesce(sum(size), 0)::bigint AS bytes FROM package_blob`);
    expect(totals.blobs).toBe(row.n);
    expect(totals.physicalBytes).toBe(Number(row.bytes));
    // Charged: every owner's distinct blobs, so the blob two owners share counts twice.
    const everyone = await registry.storage.list({ limit: 500 });
    let charged = 0;
    for (const item of everyone.items) charged += await recomputed(db, item.ownerId);
    expect(totals.chargedBytes).toBe(charged);
    const [referenced] = await db.dataSource.query(
      `SELECT coalesce(sum(size), 0)::bigint AS bytes FROM package_blob b WHERE EXISTS (SELECT 1 FROM package_owner_blob h WHERE h.blob_id = b.id)`,
    );
    expect(totals.chargedBytes).toBeGreaterThan(Number(referenced.bytes));
  });
});
