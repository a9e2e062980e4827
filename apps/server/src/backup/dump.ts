import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { pipeline } from 'node:stream/promises';
import type { Readable, Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import tar from 'tar-stream';
import type { BlobStore } from '@forge/core';
import { appliedMigrations, listTables, openSnapshot, readReferencedBlobs, readTableRows, type Database } from '@forge/db';
import {
  BLOB_LIST_ENTRY,
  blobEntry,
  DUMP_FORMAT,
  DUMP_FORMAT_VERSION,
  forgeVersion,
  MANIFEST_ENTRY,
  SECRET_ENTRY,
  TAR_END_BYTES,
  tableEntry,
  tarEntryBytes,
  type DumpManifest,
} from './archive-format.js';

export interface DumpSource {
  db: Database;
  blobs: BlobStore;
  dataDir: string;
  /** True when the server secret comes from FORGE_SECRET (then the operator keeps it, not the dump). */
  secretFromEnv: boolean;
}

export interface DumpOptions {
  includeBlobs: boolean;
  /** Where the tables are spooled before the archive is written (removed by cleanup()). */
  spoolDir: string;
}

export interface PreparedDump {
  manifest: DumpManifest;
  /** The archive's exact size in bytes. */
  size: number;
  /** Writes the archive; rejects if a blob cannot be read (then `out` holds a truncated archive). */
  writeTo(out: Writable): Promise<void>;
  cleanup(): Promise<void>;
}

/**
 * Reads the database in one snapshot (REPEATABLE READ: every table as of the same instant,
 * while the server keeps serving) into spool files, and returns what writes the archive.
 * Blobs are immutable and content-addressed, so copying them after the snapshot is
 * consistent: each one the snapshot names is read by its hash. A blob a collection deleted
 * since (only possible for rows deleted after the snapshot) fails the dump with its hash.
 */
export async function prepareDump(source: DumpSource, options: DumpOptions): Promise<PreparedDump> {
  await fs.mkdir(options.spoolDir, { recursive: true });
  const spool = await fs.mkdtemp(path.join(options.spoolDir, 'forge-dump-'));
  const cleanup = () => fs.rm(spool, { recursive: true, force: true });
  try {
    const snapshot = await openSnapshot(source.db.dataSource);
    let migrations: string[];
    const tables: DumpManifest['tables'] = [];
    const blobList = path.join(spool, BLOB_LIST_ENTRY);
    let blobCount = 0;
    let blobBytes = 0;
    try {
      migrations = await appliedMigrations(snapshot.runner);
      for (const table of await listTables(snapshot.runner)) {
        let rows = 0;
        const gz = createGzip({ level: 6 });
        const written = pipeline(gz, createWriteStream(path.join(spool, `${table.name}.jsonl.gz`), { mode: 0o600 }));
        for await (const batch of readTableRows(snapshot.runner, table.name)) {
          rows += batch.length;
          if (!gz.write(batch.join('\n') + '\n')) await once(gz, 'drain');
        }
        gz.end();
        await written;
        tables.push({ name: table.name, columns: table.columns, rows, entry: tableEntry(table.name) });
      }
      const list = createWriteStream(blobList, { mode: 0o600 });
      const listed = once(list, 'close');
      for await (const batch of readReferencedBlobs(snapshot.runner)) {
        for (const b of batch) {
          blobCount++;
          blobBytes += b.size;
        }
        if (!list.write(batch.map((b) => `${b.sha256} ${b.size}\n`).join(''))) await once(list, 'drain');
      }
      list.end();
      await listed;
    } finally {
      await snapshot.close();
    }

    const secretFile = path.join(source.dataDir, 'secret.key');
    const secret = source.secretFromEnv ? null : await fs.readFile(secretFile).catch(() => null);
    const manifest: DumpManifest = {
      format: DUMP_FORMAT,
      version: DUMP_FORMAT_VERSION,
      createdAt: new Date().toISOString(),
      forgeVersion: forgeVersion(),
      sourceDatabase: source.db.kind,
      migrations,
      tables,
      blobs: { count: blobCount, bytes: blobBytes, included: options.includeBlobs },
      secret: secret ? 'file' : 'environment',
    };
    const manifestBytes = Buffer.from(JSON.stringify(manifest, null, 2) + '\n');
    const tableSizes = await Promise.all(tables.map(async (t) => (await fs.stat(path.join(spool, `${t.name}.jsonl.gz`))).size));
    const listSize = (await fs.stat(blobList)).size;

    let size = tarEntryBytes(manifestBytes.length) + tarEntryBytes(listSize) + TAR_END_BYTES;
    if (secret) size += tarEntryBytes(secret.length);
    for (const s of tableSizes) size += tarEntryBytes(s);
    if (options.includeBlobs) size += blobCount * 512 + (await paddedBlobBytes(blobList));

    return {
      manifest,
      size,
      cleanup,
      async writeTo(out) {
        const pack = tar.pack();
        const piped = pipeline(pack, out);
        const add = (name: string, size: number, body: Buffer | Readable) =>
          new Promise<void>((resolve, reject) => {
            const header = { name, size, mode: 0o600, mtime: new Date(manifest.createdAt) };
            if (Buffer.isBuffer(body)) {
              pack.entry(header, body, (err) => (err ? reject(err) : resolve()));
              return;
            }
            const entry = pack.entry(header, (err) => (err ? reject(err) : resolve()));
            pipeline(body, entry).catch(reject);
          });
        try {
          await add(MANIFEST_ENTRY, manifestBytes.length, manifestBytes);
          if (secret) await add(SECRET_ENTRY, secret.length, secret);
          await add(BLOB_LIST_ENTRY, listSize, createReadStream(blobList));
          if (options.includeBlobs) {
            for await (const { sha256, size } of readBlobList(blobList)) {
              let body: Readable;
              try {
                body = await source.blobs.open(sha256);
              } catch (err) {
                throw new Error(`blob ${sha256} cannot be read from the store (${(err as Error).message}); was it collected during the dump? run the dump again`);
              }
              await add(blobEntry(sha256), size, body);
            }
          }
          for (const [i, t] of tables.entries()) {
            await add(t.entry, tableSizes[i]!, createReadStream(path.join(spool, `${t.name}.jsonl.gz`)));
          }
          pack.finalize();
        } catch (err) {
          pack.destroy(err as Error);
          await piped.catch(() => {});
          throw err;
        }
        await piped;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

/** Blob bytes as the tar stores them (each padded to 512). */
async function paddedBlobBytes(blobList: string): Promise<number> {
  let total = 0;
  for await (const { size } of readBlobList(blobList)) total += Math.ceil(size / 512) * 512;
  return total;
}

/** The entries of a `blobs.txt` (`<sha256> <size>` per line). */
export async function* readBlobList(source: string | Readable): AsyncGenerator<{ sha256: string; size: number }> {
  const input = typeof source === 'string' ? createReadStream(source) : source;
  for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
    if (line === '') continue;
    const m = /^([0-9a-f]{64}) (\d+)$/.exec(line);
    if (!m) throw new Error(`${BLOB_LIST_ENTRY}: unreadable line "${line.slice(0, 80)}"`);
    yield { sha256: m[1]!, size: Number(m[2]) };
  }
}
