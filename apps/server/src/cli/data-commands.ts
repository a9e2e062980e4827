import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { PackageTypeModule } from '@forge/core';
import { adminSocketPath } from '../admin/socket.js';
import type { ForgeConfig } from '../config.js';
import { fetchDumpFromServer, spoolDirOf } from '../backup/dump-over-socket.js';
import { prepareDump } from '../backup/dump.js';
import { describeDatabase, openBlobStore, openExistingDatabase, redactUrl } from '../backup/installation.js';
import { migrateDatabase } from '../backup/migrate-db.js';
import { restoreDump } from '../backup/restore.js';
import { formatBytes, progressBar } from './progress.js';

/**
 * The CLI's data commands: `forge admin dump`, `restore` and `migrate-db`
 * (docs/operations.md, "Backups and moving to PostgreSQL"). Each returns the lines to print.
 */

export function defaultDumpName(now = new Date()): string {
  return `forge-dump-${now.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15)}.tar`;
}

export async function dumpCommand(config: ForgeConfig, modules: PackageTypeModule[], args: { file?: string; blobs?: boolean }): Promise<string> {
  const file = path.resolve(args.file ?? defaultDumpName());
  const includeBlobs = args.blobs !== false;
  if (fs.existsSync(file)) throw new Error(`${file} exists already`);
  const bar = progressBar('dump', 'bytes');
  try {
    if (await fetchDumpFromServer(config.dataDir, file, includeBlobs, (got, total) => bar.update(got, total))) {
      bar.stop();
      return `Dump written to ${file} (${formatBytes(fs.statSync(file).size)}) by the running server, from ${describeDatabase(config)}${includeBlobs ? '' : '; blobs not included'}`;
    }
    const db = await openExistingDatabase(config, modules);
    const blobs = await openBlobStore(config);
    try {
      const dump = await prepareDump(
        { db, blobs, dataDir: config.dataDir, secretFromEnv: Boolean(config.secret) },
        { includeBlobs, spoolDir: spoolDirOf(config.dataDir) },
      );
      const partial = `${file}.partial`;
      try {
        const out = fs.createWriteStream(partial, { mode: 0o600 });
        bar.update(0, dump.size);
        const tick = setInterval(() => bar.update(out.bytesWritten, dump.size), 200);
        try {
          await dump.writeTo(out);
        } finally {
          clearInterval(tick);
        }
        bar.update(dump.size, dump.size);
        fs.renameSync(partial, file);
      } catch (err) {
        fs.rmSync(partial, { force: true });
        throw err;
      } finally {
        await dump.cleanup();
      }
      bar.stop();
      return `Dump written to ${file} (${formatBytes(dump.size)}) from ${describeDatabase(config)}: ${dump.manifest.tables.length} tables, ${dump.manifest.blobs.count} blobs${includeBlobs ? '' : ' (listed, not included)'}`;
    } finally {
      blobs.destroy?.();
      await db.close();
    }
  } finally {
    bar.stop();
  }
}

export async function restoreCommand(config: ForgeConfig, modules: PackageTypeModule[], args: { file: string }): Promise<{ output: string; ok: boolean }> {
  await refuseWhileServing(config, 'restore');
  const blobs = await openBlobStore(config);
  const bar = progressBar('restore', 'bytes');
  try {
    const report = await restoreDump(path.resolve(args.file), { config, modules, blobs, onProgress: (read, total) => bar.update(read, total) });
    bar.stop();
    const lines = [
      `Restored into ${describeDatabase(config)}: ${report.manifest.tables.length} tables, ${report.rows} rows, ${report.blobsRestored} blobs` +
        ` (dump of ${report.manifest.createdAt}, forge ${report.manifest.forgeVersion}, from ${report.manifest.sourceDatabase})`,
    ];
    if (report.manifest.secret === 'environment') lines.push('The dumped server used FORGE_SECRET: start this one with the same FORGE_SECRET, or its owner signing keys will not open.');
    if (report.blobsMissing.length > 0) {
      lines.push(`${report.blobsMissing.length} blobs the dump lists are not in the store (${config.storage.kind}), e.g. ${report.blobsMissing.slice(0, 3).join(', ')}: restore the blob store too (the dump was made with --no-blobs)`);
    }
    return { output: lines.join('\n'), ok: report.blobsMissing.length === 0 };
  } finally {
    bar.stop();
    blobs.destroy?.();
  }
}

export async function migrateDbCommand(config: ForgeConfig, modules: PackageTypeModule[], args: { to: string }): Promise<string> {
  await refuseWhileServing(config, 'migrate-db');
  const bar = progressBar('migrate-db', 'rows');
  try {
    const report = await migrateDatabase({ config, modules, to: args.to, onProgress: (done, total) => bar.update(done, total) });
    bar.stop();
    return [
      `Copied ${report.rows} rows in ${report.tables} tables from PGlite to PostgreSQL ${redactUrl(args.to)}; blobs and ${config.dataDir}/secret.key stay where they are.`,
      `The embedded database was moved to ${report.movedAside} (rename it back to undo).`,
      'Start the server with DATABASE_URL set to that URL (and the same FORGE_DATA_DIR).',
    ].join('\n');
  } finally {
    bar.stop();
  }
}

/** Restore and migrate-db write behind the server's back: they refuse while a server answers on the data directory. */
async function refuseWhileServing(config: ForgeConfig, command: string): Promise<void> {
  const socketPath = adminSocketPath(config.dataDir);
  if (!fs.existsSync(socketPath)) return;
  const answering = await new Promise<boolean>((resolve) => {
    const s = net.connect(socketPath, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
  if (answering) throw new Error(`a server is running on ${config.dataDir}: stop it before ${command}`);
}
