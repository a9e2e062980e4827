import fs from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { startTestServer, type TestServer } from '@forge/server/testing';
import { PostgresRunnerLock } from '../../src/cleanup/runner-lock.js';

const kinds = await testDatabaseKinds();
const GRACE_MS = 60_000;
const hoursAgo = (h: number) => new Date(Date.now() - h * 3_600_000);

/** The host's cleanup tasks over a real server: staging leftovers, unreferenced blobs, objects without a row. */
describe.each(kinds)('cleanup on %s', (kind) => {
  let t: TestServer;

  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { blobGraceMs: GRACE_MS, cleanupIntervalMs: 0 } });
  });
  afterAll(async () => t?.close());

  const blobsDir = () => path.join(t.dataDir, 'blobs');

  it('registers the modules\' tasks before the host\'s sweeps', () => {
    const names = t.forge.cleanup.taskNames;
    expect(names.slice(-2)).toEqual(['staging-sweep', 'blob-sweep']);
  });

  it('removes staging leftovers of a crash once older than the grace, and not before', async () => {
    const tmp = path.join(blobsDir(), 'tmp');
    await fs.mkdir(tmp, { recursive: true });
    const old = path.join(tmp, 'crashed-upload.tmp');
    const fresh = path.join(tmp, 'running-upload.tmp');
    await fs.writeFile(old, Buffer.alloc(1024));
    await fs.writeFile(fresh, Buffer.alloc(1024));
    await fs.utimes(old, hoursAgo(2), hoursAgo(2));

    const dry = await t.forge.cleanup.run({ dryRun: true, only: ['staging-sweep'] });
    expect(dry!.tasks[0]!.result!.summary).toBe('not run in a dry run');
    await expect(fs.stat(old)).resolves.toBeTruthy();

    const report = await t.forge.cleanup.run({ dryRun: false, only: ['staging-sweep'] });
    expect(report!.tasks[0]).toMatchObject({ name: 'staging-sweep', result: { details: { removed: 1 } } });
    await expect(fs.stat(old)).rejects.toThrow(/ENOENT/);
    await expect(fs.stat(fresh)).resolves.toBeTruthy();
    await fs.rm(fresh);
  });

  it('frees the disk of a deleted file after the blob grace: dry run first, then for real', async () => {
    const registry = t.forge.registry;
    const owner = await t.createUser('blobby');
    const bytes = Buffer.from(`content only this test holds ${Math.random()}`);
    const staged = await registry.stageBlob(Readable.from([bytes]));
    const { file } = await registry.createPackageAndAddFile({
      ownerId: owner.id,
      type: 'generic',
      name: 'tool',
      version: '1.0',
      file: { name: 'tool.bin', blob: staged },
    });
    const object = path.join(blobsDir(), 'blobs', file.sha256.slice(0, 2), file.sha256.slice(2, 4), file.sha256);
    await registry.write((tx) => tx.deleteFile(file.id));

    // Unreferenced, but younger than the grace: kept (an upload may be about to reuse it).
    let report = await t.forge.cleanup.run({ dryRun: false, only: ['blob-sweep'] });
    expect(report!.tasks[0]!.result!.details).toMatchObject({ unreferencedBlobs: 0 });
    await expect(fs.stat(object)).resolves.toBeTruthy();

    await t.forge.db.dataSource.query(`UPDATE package_blob SET created_at = $2 WHERE sha256 = $1`, [file.sha256, hoursAgo(2)]);
    report = await t.forge.cleanup.run({ dryRun: true, only: ['blob-sweep'] });
    expect(report!.tasks[0]!.result).toMatchObject({ bytes: bytes.length, details: { unreferencedBlobs: 1 } });
    await expect(fs.stat(object)).resolves.toBeTruthy();

    report = await t.forge.cleanup.run({ dryRun: false });
    expect(report!.tasks.find((x) => x.name === 'blob-sweep')!.result).toMatchObject({ details: { unreferencedBlobs: 1 } });
    expect(report!.bytes).toBeGreaterThanOrEqual(bytes.length);
    await expect(fs.stat(object)).rejects.toThrow(/ENOENT/);
    const rows = await t.forge.db.dataSource.query(`SELECT 1 FROM package_blob WHERE sha256 = $1`, [file.sha256]);
    expect(rows).toHaveLength(0);
  });
});

describe.each(kinds)('the cleanup scheduler in a running server on %s', (kind) => {
  let t: TestServer;
  afterAll(async () => t?.close());

  it('sweeps staging leftovers of a crash every FORGE_CLEANUP_INTERVAL, not only at start-up', async () => {
    t = await startTestServer({ db: kind, config: { blobGraceMs: 1000, cleanupIntervalMs: 1000 } });
    const tmp = path.join(t.dataDir, 'blobs', 'tmp');
    await fs.mkdir(tmp, { recursive: true });
    // Left after start-up (as by another process killed with -9), untouched for an hour.
    const leftover = path.join(tmp, 'killed-upload.tmp');
    await fs.writeFile(leftover, Buffer.alloc(4096));
    await fs.utimes(leftover, hoursAgo(1), hoursAgo(1));
    let gone = false;
    for (let i = 0; i < 100 && !gone; i++) {
      await new Promise((r) => setTimeout(r, 100));
      gone = await fs.stat(leftover).then(() => false, () => true);
    }
    expect(gone).toBe(true);
  });
});

describe.each(kinds.filter((k) => k === 'postgres'))('one cleanup runner among processes on one %s database', () => {
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    a = await startTestServer({ db: 'postgres', config: { cleanupIntervalMs: 0 } });
    b = await startTestServer({ db: 'postgres', sharing: a, config: { cleanupIntervalMs: 0 } });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('while one process holds the runner lock the other skips its round, or waits for it when asked to', async () => {
    const release = await new PostgresRunnerLock(a.forge.db.dataSource).tryAcquire();
    expect(release).not.toBeNull();
    try {
      expect(await new PostgresRunnerLock(b.forge.db.dataSource).tryAcquire()).toBeNull();
      expect(await b.forge.cleanup.run({ dryRun: true })).toBeNull();
      const waiting: string[] = [];
      const waited = b.forge.cleanup.run({ dryRun: true, wait: true, pollMs: 20, onProgress: (p) => waiting.push(p.task) });
      await new Promise((r) => setTimeout(r, 100));
      expect(waiting).toContain('waiting');
      await release!();
      const report = await waited;
      expect(report!.tasks.map((x) => x.name)).toEqual(b.forge.cleanup.taskNames);
    } finally {
      await release?.().catch(() => {});
    }
    // Released: the first process runs again.
    expect(await a.forge.cleanup.run({ dryRun: true })).not.toBeNull();
  });
});
