/**
 * The cache's use cases called directly, with no HTTP server and no express: the real
 * database (PGlite and PostgreSQL), registry, blob store and key service, as a job or a
 * CLI would have them. A NAR is accepted, its narinfo published, served and deleted.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadRequestError, ConflictError, type Logger, type Owner } from '@forge/core';
import { OwnerService } from '@forge/auth';
import { createLocalBlobStore } from '@forge/blob-store';
import { LocalEvents, openDatabase, type Database } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { OwnerKeyService, SecretBox } from '@forge/keys';
import { Registry } from '@forge/registry';
import { createNixCache, type NixCache } from '../../src/cache/index.js';
import { nixModule } from '../../src/index.js';
import { makePath, sampleTree, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

async function* chunks(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  // In pieces, as a request body arrives.
  for (let at = 0; at < bytes.length; at += 1000) yield bytes.subarray(at, at + 1000);
}

describe.each(kinds)('the cache use cases without HTTP on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;
  let dir: string;
  let nix: NixCache;
  let alice: Owner;
  const shutdown: Array<() => Promise<void> | void> = [];

  beforeAll(async () => {
    testDb = await createTestDatabase(kind);
    db = await openDatabase(testDb.options, { migrations: [nixModule().migrations ?? []] });
    await db.migrate();
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-nix-use-cases-'));
    const registry = new Registry(db.dataSource, createLocalBlobStore({ root: dir }), { logger: silent });
    const owners = new OwnerService(db.dataSource);
    nix = createNixCache({
      registry,
      owners,
      keys: new OwnerKeyService(db.dataSource, new SecretBox(randomBytes(32), 'owner-keys')),
      events: new LocalEvents(),
      db: db.dataSource,
      logger: silent,
      host: { baseUrl: 'https://forge.example', hostName: 'forge.example', maxUploadBytes: 64 * 1024 * 1024, uploadGraceMs: 3_600_000, bodyIdleTimeoutMs: 30_000 },
      onShutdown: (hook) => shutdown.push(hook),
    });
    alice = await owners.createUser({ username: 'alice', email: 'alice@example.test', password: 'password-alice' });
  });
  afterAll(async () => {
    for (const hook of shutdown) await hook();
    await db?.close();
    await testDb?.drop();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const stagedFiles = async () => (await fs.readdir(path.join(dir, 'tmp')).catch(() => [])).length;
  const accept = (p: TestPath) => nix.nars.accept(alice, nix.nars.expect(p.fileName, p.file.length), chunks(p.file));
  const publish = (p: TestPath) => nix.publisher.publish({ owner: alice, hashPart: p.hashPart, info: p.info, creatorId: alice.id });

  let dep: TestPath;
  let app: TestPath;

  it('accepts a NAR upload with the facts the server computed, and enables the cache', async () => {
    expect((await nix.access.describe(alice)).settings).toBeNull();
    dep = makePath({ name: 'dep-1.0', compression: 'gzip' });
    const facts = await accept(dep);
    expect(facts).toMatchObject({ compression: 'gzip', fileSize: dep.file.length, narSize: dep.nar.length });
    expect((await nix.access.describe(alice)).settings).not.toBeNull();
    expect(await nix.nars.find(alice.id, dep.fileName)).toMatchObject({ size: dep.file.length });
  });

  it('refuses a NAR whose bytes are not the ones its name says, with a typed error, leaving nothing behind', async () => {
    const other = makePath({ name: 'other-1.0', compression: 'none', tree: sampleTree() });
    const wrongName = makePath({ name: 'decoy-1.0', compression: 'none' });
    const refused = await nix.nars.accept(alice, nix.nars.expect(wrongName.fileName), chunks(other.file)).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as BadRequestError).message).toMatch(/FileHash/);
    expect(await stagedFiles()).toBe(0);
    expect(await nix.nars.find(alice.id, wrongName.fileName)).toBeNull();
  });

  it('publishes a narinfo that matches its NAR, signs it and serves it from the memo', async () => {
    expect(await publish(dep)).toEqual({ created: true });
    const served = await nix.narinfos.find(alice.id, dep.hashPart);
    expect(served?.memoised).toBe(true);
    const text = served!.body.toString('utf8');
    expect(text).toContain(`StorePath: /nix/store/${dep.baseName}\n`);
    expect(text).toMatch(/^Sig: forge\.example-alice-1:/m);
    expect(await publish(dep)).toEqual({ created: false });
  });

  it('refuses a narinfo that disagrees with the NAR, naming the field', async () => {
    app = makePath({ name: 'app-2.0', compression: 'none', references: [dep], selfReference: true });
    await accept(app);
    const wrong = { ...app.info, narSize: app.info.narSize + 8 };
    const refused = await nix.publisher.publish({ owner: alice, hashPart: app.hashPart, info: wrong, creatorId: null }).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(BadRequestError);
    expect((refused as Error).message).toMatch(/^NarSize mismatch/);
    expect(await nix.narinfos.find(alice.id, app.hashPart)).toBeNull();
  });

  it('deletes a path only together with what depends on it', async () => {
    expect(await publish(app)).toEqual({ created: true });
    await expect(nix.deletion.delete(alice, [dep.hashPart], { withDependents: false })).rejects.toBeInstanceOf(ConflictError);
    expect(await nix.narinfos.find(alice.id, dep.hashPart)).not.toBeNull();

    const deleted = await nix.deletion.delete(alice, [dep.hashPart], { withDependents: true });
    expect(deleted.map((p) => p.hashPart).sort()).toEqual([dep.hashPart, app.hashPart].sort());
    expect(await nix.narinfos.find(alice.id, dep.hashPart)).toBeNull();
    expect(await nix.narinfos.find(alice.id, app.hashPart)).toBeNull();
    expect(await nix.nars.find(alice.id, dep.fileName)).toBeNull();
    expect(await nix.nars.find(alice.id, app.fileName)).toBeNull();
    expect((await nix.paths.stats(alice.id)).paths).toBe(0);
  });

  it('deletes several roots in one go, a root that references another being no obstacle', async () => {
    const lib = makePath({ name: 'lib-3.0', compression: 'none' });
    const tool = makePath({ name: 'tool-3.0', compression: 'none', references: [lib] });
    for (const p of [lib, tool]) {
      await accept(p);
      await publish(p);
    }
    const deleted = await nix.deletion.delete(alice, [lib.hashPart, tool.hashPart], { withDependents: false });
    expect(deleted).toHaveLength(2);
    expect((await nix.paths.stats(alice.id)).paths).toBe(0);
  });
});
