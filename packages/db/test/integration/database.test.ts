import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostMigrations, isUniqueViolation, openDatabase, OwnerEntity, PackageBlobEntity, type Database } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';

const kinds = await testDatabaseKinds();

describe.each(kinds)('database on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = await openDatabase(testDb.options);
    await db.migrate();
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('applies the host migrations once, and again is a no-op', async () => {
    await db.migrate();
    const rows = await db.dataSource.query(`SELECT name FROM forge_migrations`);
    expect(rows.map((r: { name: string }) => r.name)).toEqual(hostMigrations.map((m) => m.name));
    expect(rows.length).toBeGreaterThan(0);
  });

  it('returns bigint columns as numbers on both drivers', async () => {
    const repo = db.dataSource.getRepository(PackageBlobEntity);
    const big = 5 * 1024 ** 3;
    const saved = await repo.save({ sha256: 'a'.repeat(64), size: big });
    const loaded = await repo.findOneByOrFail({ id: saved.id });
    expect(loaded.size).toBe(big);
    const [{ count }] = await db.dataSource.query('SELECT count(*) AS count FROM package_blob');
    expect(count).toBe(1);
  });

  it('reports unique violations in a driver-independent way', async () => {
    const repo = db.dataSource.getRepository(OwnerEntity);
    await repo.insert({ name: 'Alice', lowerName: 'alice', type: 'user', visibility: 'public', email: 'a@x', isAdmin: false, fullName: '' });
    const err = await repo
      .insert({ name: 'ALICE', lowerName: 'alice', type: 'user', visibility: 'public', email: 'b@x', isAdmin: false, fullName: '' })
      .catch((e: unknown) => e);
    expect(isUniqueViolation(err)).toBe(true);
  });

  it('counts affected rows of UPDATE and DELETE', async () => {
    const repo = db.dataSource.getRepository(OwnerEntity);
    const result = await repo.update({ lowerName: 'alice' }, { fullName: 'Alice A.' });
    expect(result.affected).toBe(1);
    const none = await repo.delete({ lowerName: 'nobody' });
    expect(none.affected).toBe(0);
  });

  it('keeps concurrent transactions apart: a rollback undoes only its own writes', async () => {
    const repo = db.dataSource.getRepository(PackageBlobEntity);
    const before = await repo.count();
    const attempts = Array.from({ length: 12 }, (_, i) =>
      db.dataSource
        .transaction(async (m) => {
          await m.insert(PackageBlobEntity, { sha256: i.toString(16).padStart(64, 'b'), size: i });
          // Yield so that other transactions get to run in between (on PGlite they queue).
          await new Promise((r) => setTimeout(r, 2));
          if (i % 3 === 0) throw new Error('roll back');
        })
        .then(
          () => 'ok',
          () => 'rolled back',
        ),
    );
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(8);
    expect(await repo.count()).toBe(before + 8);
  });
});
