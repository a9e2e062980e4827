/**
 * Promote before the transaction, commit after, sweep what a failed commit left, and the
 * races between writers and the two cleanups (docs/blob-store.md, "Why a committed row
 * never points at a missing object"), on both databases and both blob stores.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BlobStore, Logger, StagedBlob } from '@forge/core';
import { OwnerService } from '@forge/auth';
import { createLocalBlobStore, createS3BlobStore } from '@forge/blob-store';
import { openDatabase, type Database } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { Registry } from '@forge/registry';
import { startS3Server, type S3TestServer } from '../../../../test/support/s3/index.js';

const kinds = await testDatabaseKinds();
const stores = ['local', 's3'] as const;

async function* bytes(text: string) {
  yield Buffer.from(text);
}

/** A blob store whose operations a test can hold up or follow with an action. */
class HookedStore implements BlobStore {
  beforeDelete?: (sha256: string) => Promise<void>;
  afterPromote?: (staged: StagedBlob) => Promise<void>;
  promotes = 0;
  constructor(readonly inner: BlobStore) {}
  get kind() {
    return this.inner.kind;
  }
  check = () => this.inner.check();
  stat = (sha256: string) => this.inner.stat(sha256);
  open = (...args: Parameters<BlobStore['open']>) => this.inner.open(...args);
  list = () => this.inner.list();
  entries = () => this.inner.entries();
  sweepStaging = (ms: number) => this.inner.sweepStaging(ms);
  localPath = (sha256: string) => this.inner.localPath(sha256);
  presignGet = (...args: Parameters<BlobStore['presignGet']>) => this.inner.presignGet(...args);
  async delete(sha256: string) {
    await this.beforeDelete?.(sha256);
    await this.inner.delete(sha256);
  }
  async stage(...args: Parameters<BlobStore['stage']>): Promise<StagedBlob> {
    const staged = await this.inner.stage(...args);
    const hooks = this;
    return {
      sha256: staged.sha256,
      size: staged.size,
      async promote() {
        hooks.promotes++;
        await staged.promote();
        await hooks.afterPromote?.(this);
      },
      discard: () => staged.discard(),
    };
  }
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

let s3: S3TestServer;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.close();
});

describe.each(kinds.flatMap((kind) => stores.map((store) => [kind, store] as const)))('blob lifecycle on %s with the %s store', (kind, storeKind) => {
  let testDb: TestDatabase;
  let db: Database;
  let dir: string;
  let store: HookedStore;
  let registry: Registry;
  let ownerId: number;
  const warnings: string[] = [];
  const logger = {
    warn: (message: string) => void warnings.push(message),
    info: () => {},
    error: () => {},
    debug: () => {},
    child: () => logger,
  } as unknown as Logger;

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = await openDatabase(testDb.options);
    await db.migrate();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-lifecycle-'));
    const inner =
      storeKind === 'local'
        ? createLocalBlobStore({ root: dir })
        : createS3BlobStore({
            endpoint: s3.endpoint,
            region: s3.region,
            bucket: s3.bucket,
            prefix: `lifecycle-${kind}-${randomBytes(4).toString('hex')}`,
            accessKeyId: s3.accessKeyId,
            secretAccessKey: s3.secretAccessKey,
            forcePathStyle: true,
            stagingDir: path.join(dir, 'tmp'),
          });
    store = new HookedStore(inner);
    registry = new Registry(db.dataSource, store, { logger });
    ownerId = (await new OwnerService(db.dataSource).createUser({ username: 'owner', email: 'o@x.test', password: 'owner-passphrase-1' })).id;
  });
  afterAll(async () => {
    await db?.close();
    await testDb?.drop();
    await fs.rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    store.beforeDelete = undefined;
    store.afterPromote = undefined;
    store.promotes = 0;
    warnings.length = 0;
  });

  const unique = (label: string) => `${label} ${randomBytes(6).toString('hex')}`;
  const blobRows = async (sha256: string) => (await db.dataSource.query(`SELECT id FROM package_blob WHERE sha256 = $1`, [sha256])).length;
  const putOwnerFile = (key: string, staged: StagedBlob, work?: () => Promise<void>) =>
    registry.write(
      async (tx) => {
        await tx.putOwnerFile({ ownerId, type: 'generic', key, blob: staged });
        await work?.();
      },
      { staged: [staged] },
    );

  it('promotes before the transaction: a promote that takes long holds no transaction open', async () => {
    const staged = await registry.stageBlob(bytes(unique('slow promote')));
    const inPromote = deferred();
    const release = deferred();
    store.afterPromote = async () => {
      inPromote.resolve();
      await release.promise;
    };
    const writing = putOwnerFile(unique('slow'), staged);
    await inPromote.promise;
    // PGlite has one connection, which a transaction would hold: this query would wait.
    // PostgreSQL lists a transaction that is open and waiting as `idle in transaction`.
    const [row] = await db.dataSource.query(
      kind === 'postgres'
        ? `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'`
        : `SELECT 0 AS n`,
    );
    expect(Number(row.n)).toBe(0);
    release.resolve();
    await writing;
    expect(await store.stat(staged.sha256)).toMatchObject({ size: staged.size });
    expect(warnings).toEqual([]);
  });

  it('promotes again and re-runs the transaction when the object vanished between promote and row lock', async () => {
    const staged = await registry.stageBlob(bytes(unique('vanishing')));
    let deletedOnce = false;
    store.afterPromote = async (blob) => {
      if (deletedOnce) return;
      deletedOnce = true;
      // What a sweep could do in that window: the row does not exist yet.
      await store.inner.delete(blob.sha256);
    };
    let runs = 0;
    await putOwnerFile(unique('vanish'), staged, async () => void runs++);
    expect(runs).toBe(2);
    expect(store.promotes).toBe(2);
    expect(await store.stat(staged.sha256)).toMatchObject({ size: staged.size });
    expect(await blobRows(staged.sha256)).toBe(1);
    expect(warnings.join()).toMatch(/promoting it again/);
  });

  it('a reused blob row needs no check: its object stays while the row exists', async () => {
    const body = unique('reused');
    await putOwnerFile(unique('first'), await registry.stageBlob(bytes(body)));
    const second = await registry.stageBlob(bytes(body));
    const statsBefore = s3.requests.filter((r) => r.method === 'HEAD').length;
    await putOwnerFile(unique('second'), second);
    // One HEAD for the promote (found: nothing uploaded), none for a check before COMMIT.
    if (storeKind === 's3') expect(s3.requests.filter((r) => r.method === 'HEAD').length - statsBefore).toBe(1);
    expect(store.promotes).toBe(2);
    expect(await store.stat(second.sha256)).not.toBeNull();
  });

  it('the orphan sweep waits for a writer holding the hash and then keeps its object', async () => {
    const staged = await registry.stageBlob(bytes(unique('held')));
    const inTransaction = deferred();
    const release = deferred();
    const writing = putOwnerFile(unique('held'), staged, async () => {
      inTransaction.resolve();
      await release.promise;
    });
    await inTransaction.promise;
    // The object exists and has no committed row: exactly what the sweep removes, unless
    // it respects the writer's uncommitted row.
    const sweeping = registry.sweepOrphanBlobs({ olderThanMs: 0 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    release.resolve();
    await writing;
    const swept = await sweeping;
    expect(swept.objects).toBe(0);
    expect(await store.stat(staged.sha256)).toMatchObject({ size: staged.size });
    expect(await blobRows(staged.sha256)).toBe(1);
  });

  it('a writer that inserts the hash while the sweep deletes its object promotes again', async () => {
    const body = unique('raced');
    // An orphan object of the same bytes (a failed commit earlier).
    const orphan = await registry.stageBlob(bytes(body));
    await orphan.promote();
    await orphan.discard();
    const sweepDeleting = deferred();
    const release = deferred();
    store.beforeDelete = async () => {
      sweepDeleting.resolve();
      await release.promise;
    };
    const sweeping = registry.sweepOrphanBlobs({ olderThanMs: 0 });
    await sweepDeleting.promise;
    // The sweep holds the hash's lock and is about to delete: a writer of the same bytes
    // promotes now (the object is there: nothing to upload) and waits for the lock.
    const staged = await registry.stageBlob(bytes(body));
    const writing = putOwnerFile(unique('raced'), staged);
    await new Promise((resolve) => setTimeout(resolve, 300));
    release.resolve();
    expect((await sweeping).objects).toBe(1);
    store.beforeDelete = undefined;
    await writing;
    expect(await store.stat(staged.sha256)).toMatchObject({ size: staged.size });
    expect(await blobRows(staged.sha256)).toBe(1);
    expect(store.promotes).toBe(3); // the orphan's, the writer's, and the writer's again
  });

  it('the row cleanup removes the object after its row, and a writer racing it keeps a consistent blob', async () => {
    const body = unique('cleanup');
    const key = unique('cleanup');
    await putOwnerFile(key, await registry.stageBlob(bytes(body)));
    await registry.write((tx) => tx.deleteOwnerFile({ ownerId, type: 'generic', key }));
    const staged = await registry.stageBlob(bytes(body));
    const rowGone = deferred();
    const release = deferred();
    store.beforeDelete = async () => {
      rowGone.resolve();
      await release.promise;
    };
    const cleaning = registry.deleteUnreferencedBlobs({ graceMs: 0 });
    await rowGone.promise;
    // (PGlite's one connection is the cleanup's now: only PostgreSQL can look meanwhile.)
    if (kind === 'postgres') expect(await blobRows(staged.sha256)).toBe(0);
    const writing = putOwnerFile(unique('again'), staged);
    await new Promise((resolve) => setTimeout(resolve, 300));
    release.resolve();
    await cleaning;
    store.beforeDelete = undefined;
    await writing;
    expect(await store.stat(staged.sha256)).toMatchObject({ size: staged.size });
    expect(await blobRows(staged.sha256)).toBe(1);
  });

  it('sweeps old objects without a row and staging leftovers; keeps young ones and those with rows', async () => {
    const kept = await registry.stageBlob(bytes(unique('kept')));
    await putOwnerFile(unique('kept'), kept);
    const old = await registry.stageBlob(bytes(unique('old orphan')));
    await old.promote();
    await old.discard();
    await fs.mkdir(path.join(dir, 'tmp'), { recursive: true });
    await fs.writeFile(path.join(dir, 'tmp', 'left-by-a-crash.tmp'), 'x');
    const longAgo = new Date(Date.now() - 3 * 3600_000);
    await fs.utimes(path.join(dir, 'tmp', 'left-by-a-crash.tmp'), longAgo, longAgo);
    // S3 keeps modification times to the second: let the old orphan age past the cutoff.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const young = await registry.stageBlob(bytes(unique('young orphan')));
    await young.promote();
    await young.discard();

    const dry = await registry.sweepOrphanBlobs({ olderThanMs: 1500, dryRun: true });
    expect(dry).toMatchObject({ objects: 1, staging: 0 });
    expect(await store.stat(old.sha256)).not.toBeNull();
    const swept = await registry.sweepOrphanBlobs({ olderThanMs: 1500 });
    expect(swept).toMatchObject({ objects: 1, bytes: old.size, staging: 1 });
    expect(await store.stat(old.sha256)).toBeNull();
    expect(await store.stat(young.sha256)).not.toBeNull();
    expect(await store.stat(kept.sha256)).not.toBeNull();
    await expect(fs.stat(path.join(dir, 'tmp', 'left-by-a-crash.tmp'))).rejects.toThrow();
  });
});
