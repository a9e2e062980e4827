import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import type { BlobStore, PackageTypeModule } from '@forge/core';
import type { TableShape } from '@forge/db';
import type { ForgeConfig } from '../config.js';
import { decodeSecret } from '../secret.js';
import { BLOB_LIST_ENTRY, blobOfEntry, MANIFEST_ENTRY, parseManifest, SECRET_ENTRY, type DumpManifest } from './archive-format.js';
import { readBlobList } from './dump.js';
import { describeDatabase, pgliteDirOf } from './installation.js';
import { TargetDatabase } from './target-database.js';

export interface RestoreReport {
  manifest: DumpManifest;
  rows: number;
  blobsRestored: number;
  /** With a dump made --no-blobs: blobs the rows name that the store does not hold. */
  blobsMissing: string[];
  secretWritten: boolean;
}

export interface RestoreOptions {
  config: ForgeConfig;
  modules: PackageTypeModule[];
  blobs: BlobStore;
  /** Archive bytes read so far, of `total`. */
  onProgress?: (read: number, total: number) => void;
}

/**
 * Reads a dump into an empty database (the configured PGlite directory or PostgreSQL
 * database): blobs first, each stored only if its bytes hash to its name, then every row
 * in one transaction. A restore that fails leaves the database empty again (blobs already
 * stored stay, unreferenced, until the orphan sweep), so it can be run again.
 */
export async function restoreDump(file: string, options: RestoreOptions): Promise<RestoreReport> {
  const { config, modules, blobs } = options;
  const total = (await fs.stat(file)).size;
  const input = createReadStream(file);
  let read = 0;
  input.on('data', (chunk) => {
    read += chunk.length;
    options.onProgress?.(read, total);
  });
  const extract = tar.extract();
  input.pipe(extract);
  input.on('error', (err) => extract.destroy(err));

  let manifest: DumpManifest | null = null;
  let target: TargetDatabase | null = null;
  let tables: Map<string, TableShape> | null = null;
  let secretFile: string | null = null;
  const report = { rows: 0, blobsRestored: 0, blobsMissing: [] as string[], secretWritten: false };
  const seenTables = new Set<string>();
  try {
    for await (const tarEntry of extract) {
      const name = tarEntry.header.name;
      // tar-stream's entries are streamx streams: node's streams take them as async iterables.
      const entry = Readable.from(tarEntry as AsyncIterable<Buffer>, { objectMode: false });
      if (!manifest) {
        if (name !== MANIFEST_ENTRY) throw new Error(`not a forge dump: its first entry is ${name}, not ${MANIFEST_ENTRY}`);
        manifest = parseManifest(await readText(entry));
        const where = { url: config.databaseUrl, pgliteDir: config.databaseUrl ? undefined : pgliteDirOf(config) };
        target = await TargetDatabase.open(modules, where, manifest.migrations, describeDatabase(config));
        const shapes = await target.checkTables(manifest.tables);
        tables = new Map(manifest.tables.map((t, i) => [t.entry, shapes[i]!]));
        continue;
      }
      if (name === SECRET_ENTRY) {
        secretFile = await restoreSecret(await readText(entry), config);
        report.secretWritten = secretFile !== null;
        continue;
      }
      if (name === BLOB_LIST_ENTRY) {
        if (manifest.blobs.included) entry.resume();
        else report.blobsMissing = await missingBlobs(entry, blobs);
        continue;
      }
      const sha256 = blobOfEntry(name);
      if (sha256) {
        const staged = await blobs.stage(entry);
        try {
          if (staged.sha256 !== sha256) throw new Error(`${name} holds other bytes (sha256 ${staged.sha256}): the archive is damaged`);
          await staged.promote();
        } finally {
          await staged.discard();
        }
        report.blobsRestored++;
        continue;
      }
      const table = tables!.get(name);
      if (table) {
        if (seenTables.size === 0) await target!.begin();
        seenTables.add(table.name);
        const gunzip = createGunzip();
        pipeline(entry, gunzip).catch((err: Error) => gunzip.destroy(err));
        const rows = readline.createInterface({ input: gunzip, crlfDelay: Infinity });
        for await (const line of rows) {
          if (line === '') continue;
          await target!.add(table, line);
          report.rows++;
        }
        await target!.flush(table.name);
        continue;
      }
      throw new Error(`unexpected entry ${name} in the dump`);
    }
    if (!manifest) throw new Error('the file is empty: not a forge dump');
    const unseen = manifest.tables.filter((t) => !seenTables.has(t.name)).map((t) => t.name);
    if (unseen.length > 0) throw new Error(`the dump ends before the tables ${unseen.join(', ')}: it is truncated`);
    if (manifest.blobs.included && report.blobsRestored !== manifest.blobs.count) {
      throw new Error(`the dump holds ${report.blobsRestored} of its ${manifest.blobs.count} blobs: it is truncated`);
    }
    await target!.finish(Object.fromEntries(manifest.tables.map((t) => [t.name, t.rows])));
    await target!.close();
    return { manifest, ...report };
  } catch (err) {
    input.destroy();
    await target?.abandon();
    if (secretFile) await fs.rm(secretFile, { force: true });
    throw err;
  }
}

async function readText(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The dumped secret.key goes into the data directory, unless the secret is configured
 * otherwise: FORGE_SECRET or an existing secret.key must then be the same secret (owner
 * signing keys are sealed with it). Returns the file written, if any.
 */
async function restoreSecret(text: string, config: ForgeConfig): Promise<string | null> {
  const dumped = decodeSecret(text.trim(), SECRET_ENTRY);
  const file = path.join(config.dataDir, 'secret.key');
  if (config.secret) {
    if (!decodeSecret(config.secret, 'FORGE_SECRET').equals(dumped)) {
      throw new Error('FORGE_SECRET differs from the dump\'s secret.key: the owner signing keys would not open; unset FORGE_SECRET or set it to the dumped secret');
    }
    return null;
  }
  const existing = await fs.readFile(file, 'utf8').catch(() => null);
  if (existing !== null) {
    if (!decodeSecret(existing.trim(), file).equals(dumped)) throw new Error(`${file} holds another secret than the dump: move it away first`);
    return null;
  }
  await fs.mkdir(config.dataDir, { recursive: true });
  await fs.writeFile(file, text, { mode: 0o600, flag: 'wx' });
  return file;
}

/** Blobs of the list that the store lacks or holds with another size (a dump made --no-blobs). */
async function missingBlobs(list: Readable, blobs: BlobStore): Promise<string[]> {
  const missing: string[] = [];
  const inFlight = new Set<Promise<void>>();
  for await (const { sha256, size } of readBlobList(list)) {
    const check = blobs.stat(sha256).then((s) => {
      if (!s || s.size !== size) missing.push(sha256);
    });
    const tracked = check.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
    if (inFlight.size >= 16) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  return missing.sort();
}
