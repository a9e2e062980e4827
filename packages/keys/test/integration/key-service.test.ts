import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OwnerService } from '@forge/auth';
import { openDatabase, type Database } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { OwnerKeyService, SecretBox } from '@forge/keys';

const kinds = await testDatabaseKinds();

describe.each(kinds)('owner key service on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;
  let keys: OwnerKeyService;
  let ownerId: number;
  let generated = 0;
  const generate = () => ({ name: `k-${++generated}`, publicKey: `pub-${generated}`, secretKey: `secret-${generated}` });

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = await openDatabase(testDb.options);
    await db.migrate();
    keys = new OwnerKeyService(db.dataSource, new SecretBox(randomBytes(32), 'owner-keys'));
    ownerId = (await new OwnerService(db.dataSource).createUser({ username: 'keyholder', email: 'k@x.test', password: 'keyholder-passphrase-1' })).id;
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
  });

  it('creates exactly one active key under concurrent first use', async () => {
    const all = await Promise.all(Array.from({ length: 8 }, () => keys.getOrCreateActive(ownerId, 'test', generate)));
    expect(new Set(all.map((k) => k.id)).size).toBe(1);
    expect(generated).toBe(1);
    expect(all[0]!.secretKey).toBe('secret-1');
  });

  it('stores secrets sealed, never in clear', async () => {
    const [row] = await db.dataSource.query(`SELECT secret_key_enc FROM owner_key WHERE owner_id = $1`, [ownerId]);
    expect(row.secret_key_enc).not.toContain('secret-1');
  });

  it('rotates: the new key is active, the old one retired and still listed, then droppable', async () => {
    const before = await keys.getActive(ownerId, 'test');
    const next = await keys.activate(ownerId, 'test', { name: 'k-next', publicKey: 'p', secretKey: 's' });
    expect(next.active).toBe(true);
    const list = await keys.list(ownerId, 'test');
    expect(list.map((k) => [k.name, k.active])).toEqual([
      ['k-next', true],
      ['k-1', false],
    ]);
    expect(list[1]!.retiredAt).toBeInstanceOf(Date);
    await expect(keys.drop(ownerId, 'test', next.id)).rejects.toMatchObject({ status: 400 });
    await keys.drop(ownerId, 'test', before!.id);
    expect((await keys.list(ownerId, 'test')).map((k) => k.name)).toEqual(['k-next']);
    await expect(keys.activate(ownerId, 'test', { name: 'k-next', publicKey: 'p', secretKey: 's' })).rejects.toMatchObject({ status: 409 });
  });
});
