import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnerService } from '@forge/auth';
import { createLocalBlobStore, type LocalBlobStore } from '@forge/blob-store';
import { openDatabase, type Database } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { Registry } from '@forge/registry';

const kinds = await testDatabaseKinds();

async function* bytes(text: string) {
  yield Buffer.from(text);
}

describe.each(kinds)('registry write path on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;
  let dir: string;
  let blobs: LocalBlobStore;
  let registry: Registry;
  let ownerId: number;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = await openDatabase(testDb.options);
    await db.migrate();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-registry-'));
    blobs = createLocalBlobStore({ root: dir });
    registry = new Registry(db.dataSource, blobs, { ownerQuotaBytes: 1000 });
    ownerId = (await new OwnerService(db.dataSource).createUser({ username: 'owner', email: 'o@x.test', password: 'owner-passphrase-1' })).id;
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });

  const tmpFiles = async () => (await fs.readdir(path.join(dir, 'tmp')).catch(() => [])).length;
  const count = async (table: string) => Number((await db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);

  it('creates package, version and file in one transaction and promotes the blob', async () => {
    const staged = await registry.stageBlob(bytes('first file'));
    expect(await blobs.stat(staged.sha256)).toBeNull();
    const { package: pkg, version, file } = await registry.createPackageAndAddFile({
      ownerId,
      type: 'generic',
      name: 'Tool',
      version: '1.0',
      file: { name: 'a.txt', blob: staged },
    });
    expect(pkg.lowerName).toBe('tool');
    expect(version.version).toBe('1.0');
    expect(file.sha256).toBe(staged.sha256);
    expect(await blobs.stat(staged.sha256)).toMatchObject({ size: 10 });
    expect(await registry.getPackage(ownerId, 'generic', 'TOOL')).toMatchObject({ id: pkg.id });
  });

  it('rolls the rows back when the transaction fails, leaving an object without a row for the sweep', async () => {
    const before = { packages: await count('package'), blobs: await count('package_blob') };
    const staged = await registry.stageBlob(bytes(`doomed ${randomBytes(4).toString('hex')}`));
    await expect(
      registry.write(
        async (tx) => {
          const pkg = await tx.getOrCreatePackage({ ownerId, type: 'generic', name: 'doomed' });
          const { version } = await tx.getOrCreateVersion({ packageId: pkg.id, version: '1' });
          await tx.addFile({ versionId: version.id, name: 'x', blob: staged });
          throw new Error('something later failed');
        },
        { staged: [staged] },
      ),
    ).rejects.toThrow('something later failed');
    expect(await count('package')).toBe(before.packages);
    expect(await count('package_blob')).toBe(before.blobs);
    // Promoted before the transaction: the object is there, unreachable, until swept.
    expect(await blobs.stat(staged.sha256)).toMatchObject({ size: staged.size });
    expect(await tmpFiles()).toBe(0);
    expect(await registry.sweepOrphanBlobs({ olderThanMs: 60_000 })).toMatchObject({ objects: 0 });
    expect(await blobs.stat(staged.sha256)).not.toBeNull();
    expect(await registry.sweepOrphanBlobs({ olderThanMs: 0 })).toMatchObject({ objects: 1, bytes: staged.size });
    expect(await blobs.stat(staged.sha256)).toBeNull();
  });

  it('refuses a duplicate file with 409 and leaves the first', async () => {
    const staged = await registry.stageBlob(bytes('other bytes'));
    await expect(
      registry.createPackageAndAddFile({ ownerId, type: 'generic', name: 'tool', version: '1.0', file: { name: 'A.TXT', blob: staged } }),
    ).rejects.toMatchObject({ status: 409 });
    expect(await tmpFiles()).toBe(0);
  });

  it('enforces the owner quota inside the transaction', async () => {
    const staged = await registry.stageBlob(bytes('x'.repeat(2000)));
    await expect(
      registry.createPackageAndAddFile({ ownerId, type: 'generic', name: 'big', version: '1', file: { name: 'big', blob: staged } }),
    ).rejects.toMatchObject({ status: 403, code: 'quota_exceeded' });
    expect(await registry.getOwnerFile(ownerId, 'generic', 'big')).toBeNull();
    expect((await db.dataSource.query(`SELECT 1 FROM package_blob WHERE sha256 = $1`, [staged.sha256])).length).toBe(0);
  });

  it('refuses nested writes instead of deadlocking', async () => {
    await expect(registry.write(() => registry.write(async () => 1))).rejects.toThrow(/inside another registry.write/);
  });

  it('lets reads during a write see the write (and not wait for the connection)', async () => {
    const seen = await registry.write(async (tx) => {
      await tx.getOrCreatePackage({ ownerId, type: 'generic', name: 'visible-inside' });
      return registry.getPackage(ownerId, 'generic', 'visible-inside');
    });
    expect(seen?.name).toBe('visible-inside');
  });

  it('deletes unreferenced blobs only after their grace period', async () => {
    const staged = await registry.stageBlob(bytes('to be orphaned'));
    const { version } = await registry.createPackageAndAddFile({ ownerId, type: 'generic', name: 'orphan', version: '1', file: { name: 'f', blob: staged } });
    await registry.write((tx) => tx.deleteVersion(version.id));
    expect(await registry.getPackage(ownerId, 'generic', 'orphan')).toBeNull();
    expect(await registry.deleteUnreferencedBlobs({ graceMs: 60_000 })).toEqual({ count: 0, bytes: 0 });
    expect(await blobs.stat(staged.sha256)).not.toBeNull();
    const dry = await registry.deleteUnreferencedBlobs({ graceMs: 0, dryRun: true });
    expect(dry.count).toBeGreaterThanOrEqual(1);
    expect(await blobs.stat(staged.sha256)).not.toBeNull();
    const gone = await registry.deleteUnreferencedBlobs({ graceMs: 0 });
    expect(gone.count).toBe(dry.count);
    expect(await blobs.stat(staged.sha256)).toBeNull();
    // The blob of a file still referenced survives.
    const kept = await registry.listPackages({ ownerId, query: 'tool' });
    expect(kept.total).toBe(1);
  });

  it('keeps concurrent writers of the same bytes apart: one blob row, both files', async () => {
    const body = `same ${randomBytes(4).toString('hex')}`;
    const results = await Promise.all(
      ['p1', 'p2', 'p3'].map(async (name) =>
        registry.createPackageAndAddFile({ ownerId, type: 'generic', name, version: '1', file: { name: 'f', blob: await registry.stageBlob(bytes(body)) } }),
      ),
    );
    expect(new Set(results.map((r) => r.file.blobId)).size).toBe(1);
    expect(await tmpFiles()).toBe(0);
  });
});
