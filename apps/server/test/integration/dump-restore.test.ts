/**
 * The dump archive and restore, in process, on PGlite and PostgreSQL: a round trip keeps
 * every row and blob; a damaged, truncated or foreign archive is refused and leaves the
 * target empty, so the restore can simply be run again. (test/e2e/backup.test.ts drives
 * the same through the CLI with the built server and the real Nix client.)
 */
import { createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRows, isEmptySchema, listTables } from '@forge/db';
import { createTestDatabase, testDatabaseKinds, type TestDatabase } from '@forge/db/testing';
import { loadConfig, type ForgeConfig } from '../../src/config.js';
import { prepareDump } from '../../src/backup/dump.js';
import { openBlobStore, openDatabaseFor } from '../../src/backup/installation.js';
import { restoreDump } from '../../src/backup/restore.js';
import { defaultModules } from '../../src/modules.js';
import { startTestServer, type TestServer } from '../../src/testing.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('dump and restore on %s', (kind) => {
  let t: TestServer;
  let work: string;
  let archive: string;
  const targets: TestDatabase[] = [];
  const payload = Buffer.from('x'.repeat(70_000) + 'end');

  /** A fresh, empty installation to restore into: a data directory and (PostgreSQL) a database. */
  async function emptyTarget(name: string): Promise<ForgeConfig> {
    const dataDir = path.join(work, name);
    const config: ForgeConfig = { ...loadConfig({}, dataDir), dataDir, storage: { kind: 'local', path: path.join(dataDir, 'blobs') } };
    if (kind === 'postgres') {
      const db = await createTestDatabase('postgres');
      targets.push(db);
      config.databaseUrl = db.options.url;
    }
    return config;
  }

  async function restoreInto(config: ForgeConfig, file: string) {
    const blobs = await openBlobStore(config);
    return restoreDump(file, { config, modules: defaultModules(), blobs });
  }

  /** True when the target holds no database (PGlite: no directory; PostgreSQL: no table). */
  async function targetIsEmpty(config: ForgeConfig): Promise<boolean> {
    if (!config.databaseUrl) return !(await fs.stat(path.join(config.dataDir, 'pgdata')).catch(() => null));
    const db = await openDatabaseFor(defaultModules(), { url: config.databaseUrl });
    try {
      return await isEmptySchema(db.dataSource);
    } finally {
      await db.close();
    }
  }

  beforeAll(async () => {
    work = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-dump-test-'));
    t = await startTestServer({ db: kind });
    const alice = await t.createUser('alice');
    const token = await t.token(alice);
    for (const v of ['1.0', '1.1']) {
      const res = await fetch(`${t.url}/api/packages/alice/generic/tool/${v}/tool.bin`, { method: 'PUT', headers: { Authorization: `token ${token}` }, body: payload });
      expect(res.status).toBe(201);
    }
    await fs.writeFile(path.join(t.dataDir, 'secret.key'), t.forge.secret.toString('hex') + '\n');
    const dump = await prepareDump(
      { db: t.forge.db, blobs: t.forge.blobs, dataDir: t.dataDir, secretFromEnv: false },
      { includeBlobs: true, spoolDir: path.join(work, 'spool') },
    );
    archive = path.join(work, 'dump.tar');
    await dump.writeTo(createWriteStream(archive));
    await dump.cleanup();
    expect((await fs.stat(archive)).size).toBe(dump.size);
    expect(await fs.readdir(path.join(work, 'spool'))).toEqual([]);
  });

  afterAll(async () => {
    await t?.close();
    for (const db of targets) await db.drop();
    await fs.rm(work, { recursive: true, force: true });
  });

  it('restores every row and blob, and the sequences continue after the copied ids', async () => {
    const config = await emptyTarget('round-trip');
    const report = await restoreInto(config, archive);
    expect(report.blobsRestored).toBe(1); // both versions share one blob
    expect(report.secretWritten).toBe(true);
    expect(await fs.readFile(path.join(config.dataDir, 'secret.key'), 'utf8')).toBe(t.forge.secret.toString('hex') + '\n');

    const db = await openDatabaseFor(defaultModules(), { url: config.databaseUrl, pgliteDir: path.join(config.dataDir, 'pgdata') });
    try {
      const names = (await listTables(db.dataSource)).map((x) => x.name);
      expect(await countRows(db.dataSource, names)).toEqual(await countRows(t.forge.db.dataSource, names));
      const original = await t.forge.db.dataSource.query('SELECT id, name, password_hash, created_at::text AS created FROM owner ORDER BY id');
      expect(await db.dataSource.query('SELECT id, name, password_hash, created_at::text AS created FROM owner ORDER BY id')).toEqual(original);
      const [{ id }] = (await db.dataSource.query(`INSERT INTO owner (name, lower_name, type) VALUES ('neworg', 'neworg', 'org') RETURNING id`)) as Array<{ id: number }>;
      expect(id).toBeGreaterThan(Math.max(...(original as Array<{ id: number }>).map((o) => o.id)));
    } finally {
      await db.close();
    }
    const blobs = await openBlobStore(config);
    const [blob] = (await t.forge.db.dataSource.query('SELECT sha256 FROM package_blob')) as Array<{ sha256: string }>;
    const chunks: Buffer[] = [];
    for await (const c of await blobs.open(blob!.sha256)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
  });

  it('refuses a truncated archive and leaves the target empty', async () => {
    const bytes = await fs.readFile(archive);
    const truncated = path.join(work, 'truncated.tar');
    // Cut inside the last table's entry (the tables come last).
    await fs.writeFile(truncated, bytes.subarray(0, bytes.length - 2048));
    const config = await emptyTarget('truncated');
    await expect(restoreInto(config, truncated)).rejects.toThrow(/truncated|unexpected end|Unexpected end|premature/i);
    expect(await targetIsEmpty(config)).toBe(true);
    await expect(fs.stat(path.join(config.dataDir, 'secret.key'))).rejects.toThrow();
  });

  it('refuses a blob whose bytes do not hash to its name, and leaves the target empty', async () => {
    const bytes = Buffer.from(await fs.readFile(archive));
    const at = bytes.indexOf(Buffer.from('x'.repeat(512)));
    expect(at).toBeGreaterThan(0);
    bytes[at + 100] = 'y'.charCodeAt(0);
    const damaged = path.join(work, 'damaged.tar');
    await fs.writeFile(damaged, bytes);
    const config = await emptyTarget('damaged');
    await expect(restoreInto(config, damaged)).rejects.toThrow(/holds other bytes .*: the archive is damaged/);
    expect(await targetIsEmpty(config)).toBe(true);
  });

  it('refuses a file that is not a dump, and a dump of another schema', async () => {
    const notADump = path.join(work, 'not-a-dump.tar');
    await fs.writeFile(notADump, Buffer.alloc(4096, 1));
    const config = await emptyTarget('foreign');
    await expect(restoreInto(config, notADump)).rejects.toThrow();
    expect(await targetIsEmpty(config)).toBe(true);

    // Rewrite the manifest's migration list (same length keeps the tar's sizes right).
    const bytes = Buffer.from(await fs.readFile(archive));
    const at = bytes.indexOf(Buffer.from('HostSchema1732406400000'));
    bytes.write('HostSchema1732406400009', at);
    const foreign = path.join(work, 'foreign.tar');
    await fs.writeFile(foreign, bytes);
    await expect(restoreInto(config, foreign)).rejects.toThrow(/different schema; this forge lacks the migrations HostSchema1732406400009/);
    expect(await targetIsEmpty(config)).toBe(true);
  });
});
