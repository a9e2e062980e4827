import fs from 'node:fs/promises';
import type { PackageTypeModule } from '@forge/core';
import { appliedMigrations, countRows, listTables, openSnapshot, readTableRows } from '@forge/db';
import type { ForgeConfig } from '../config.js';
import { openExistingDatabase, pgliteDirOf, redactUrl } from './installation.js';
import { TargetDatabase } from './target-database.js';

export interface MigrateDbReport {
  tables: number;
  rows: number;
  /** Where the embedded database was moved aside, so that it cannot be started by mistake. */
  movedAside: string;
}

export interface MigrateDbOptions {
  config: ForgeConfig;
  modules: PackageTypeModule[];
  /** The PostgreSQL database to fill; it must be empty. */
  to: string;
  onProgress?: (rowsCopied: number, totalRows: number) => void;
}

/**
 * Moves an embedded (PGlite) installation's database into an empty PostgreSQL database,
 * table by table in one transaction on the target; blobs, the secret and the rest of the
 * data directory stay where they are. The server must be stopped (a write after the copy
 * would be lost): the caller checks that. Afterwards the PGlite directory is renamed to
 * `pgdata.moved-to-postgres`, so a server started without DATABASE_URL cannot quietly run
 * on the old copy; renaming it back undoes the move.
 */
export async function migrateDatabase(options: MigrateDbOptions): Promise<MigrateDbReport> {
  const { config, modules, to } = options;
  if (config.databaseUrl) throw new Error('this installation runs on PostgreSQL already (DATABASE_URL is set)');
  if (!/^postgres(ql)?:\/\//.test(to)) throw new Error('--to must be a postgres:// URL');

  const source = await openExistingDatabase(config, modules);
  let target = null as TargetDatabase | null;
  try {
    // Pending migrations first, as the server would at start-up: both schemas are then this forge's.
    await source.migrate();
    const snapshot = await openSnapshot(source.dataSource);
    try {
      const migrations = await appliedMigrations(snapshot.runner);
      const tables = await listTables(snapshot.runner);
      const expected = await countRows(snapshot.runner, tables.map((t) => t.name));
      const totalRows = Object.values(expected).reduce((a, b) => a + b, 0);
      target = await TargetDatabase.open(modules, { url: to }, migrations, `PostgreSQL ${redactUrl(to)}`);
      await target.checkTables(tables);
      await target.begin();
      let copied = 0;
      options.onProgress?.(0, totalRows);
      for (const table of tables) {
        for await (const batch of readTableRows(snapshot.runner, table.name)) {
          for (const row of batch) await target.add(table, row);
          copied += batch.length;
          options.onProgress?.(copied, totalRows);
        }
        await target.flush(table.name);
      }
      await target.finish(expected);
      await target.close();
      target = null;
      await snapshot.close();
      await source.close();
      const movedAside = `${pgliteDirOf(config)}.moved-to-postgres`;
      await fs.rename(pgliteDirOf(config), movedAside);
      return { tables: tables.length, rows: copied, movedAside };
    } catch (err) {
      await snapshot.close().catch(() => {});
      throw err;
    }
  } catch (err) {
    await target?.abandon();
    await source.close().catch(() => {});
    throw err;
  }
}
