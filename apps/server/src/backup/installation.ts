import fs from 'node:fs/promises';
import path from 'node:path';
import type { BlobStore, PackageTypeModule } from '@forge/core';
import { openDatabase, type Database } from '@forge/db';
import type { ForgeConfig } from '../config.js';
import { createBlobStore } from '../forge.js';

/**
 * An installation's database and blob store opened as they are, for the data commands
 * (dump, restore, migrate-db): unlike `createForge`, nothing is migrated, no secret is
 * generated and no staging is swept, so a wrong directory is never turned into a new
 * installation.
 */

export const pgliteDirOf = (config: Pick<ForgeConfig, 'dataDir'>) => path.join(config.dataDir, 'pgdata');

/** Where the configured database lives, for messages (a PostgreSQL URL without its password). */
export function describeDatabase(config: Pick<ForgeConfig, 'dataDir' | 'databaseUrl'>): string {
  return config.databaseUrl ? `PostgreSQL ${redactUrl(config.databaseUrl)}` : `PGlite ${pgliteDirOf(config)}`;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(an unparsable URL)';
  }
}

/** True when the embedded database's directory holds a database. */
export async function pgliteExists(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/** Opens a database with every module's migrations known (but not run). */
export async function openDatabaseFor(
  modules: PackageTypeModule[],
  target: { url?: string; pgliteDir?: string },
): Promise<Database> {
  return openDatabase(
    { url: target.url, pgliteDir: target.url ? undefined : target.pgliteDir, poolSize: 2 },
    { entities: modules.flatMap((m) => m.entities ?? []), migrations: modules.map((m) => m.migrations ?? []) },
  );
}

/** The configured database, which must exist already (an embedded one is never created here). */
export async function openExistingDatabase(config: ForgeConfig, modules: PackageTypeModule[]): Promise<Database> {
  if (!config.databaseUrl && !(await pgliteExists(pgliteDirOf(config)))) {
    throw new Error(`no database at ${pgliteDirOf(config)} (is FORGE_DATA_DIR right? it is ${config.dataDir})`);
  }
  return openDatabaseFor(modules, { url: config.databaseUrl, pgliteDir: pgliteDirOf(config) });
}

export async function openBlobStore(config: ForgeConfig): Promise<BlobStore & { destroy?: () => void }> {
  const blobs = createBlobStore(config.storage) as BlobStore & { destroy?: () => void };
  try {
    await blobs.check();
  } catch (err) {
    blobs.destroy?.();
    throw err;
  }
  return blobs;
}

/** The names of the migrations a database of this forge has once migrated, oldest first. */
export function knownMigrations(db: Database): string[] {
  return db.dataSource.migrations.map((m) => m.name ?? m.constructor.name);
}
