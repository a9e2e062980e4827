import fs from 'node:fs/promises';
import type { QueryRunner } from 'typeorm';
import type { PackageTypeModule } from '@forge/core';
import { countRows, dropRestoredSchema, insertTableRows, isEmptySchema, listTables, resetSequences, type Database, type TableShape } from '@forge/db';
import { knownMigrations, openDatabaseFor, pgliteExists } from './installation.js';

/** Rows per INSERT, and the JSON bytes one may carry: large enough to be quick, small enough for PGlite's memory. */
const BATCH_ROWS = 1000;
const BATCH_BYTES = 4 * 1024 * 1024;

/**
 * An empty database being filled by `restore` or `migrate-db`: checked empty, migrated
 * to this forge's schema, checked to have the copy's tables and columns, then filled in
 * one transaction. If anything fails, `abandon()` leaves it empty again (the schema it
 * created is dropped, or the embedded database's directory it created is removed), so
 * the command can simply be run again.
 */
export class TargetDatabase {
  #runner: QueryRunner | null = null;
  #pending = new Map<string, { table: TableShape; rows: string[]; bytes: number }>();
  /** Set once the schema is being created here: only then may abandon() drop it. */
  #schemaIsOurs = false;

  private constructor(
    readonly db: Database,
    private readonly where: { url?: string; pgliteDir?: string },
  ) {}

  /**
   * Opens the target and refuses unless it is empty and this forge's migrations are
   * exactly `migrations` (the copy's schema): rows are only ever copied between equal schemas.
   */
  static async open(modules: PackageTypeModule[], where: { url?: string; pgliteDir?: string }, migrations: string[], label: string): Promise<TargetDatabase> {
    if (!where.url && where.pgliteDir && (await pgliteExists(where.pgliteDir))) {
      throw new Error(`${label} already holds a database: restore into an empty data directory or database`);
    }
    const db = await openDatabaseFor(modules, where);
    const target = new TargetDatabase(db, where);
    try {
      if (!(await isEmptySchema(db.dataSource))) {
        throw new Error(`${label} is not empty (its schema has tables): restore into an empty database`);
      }
      const ours = knownMigrations(db);
      const missing = migrations.filter((m) => !ours.includes(m));
      const extra = ours.filter((m) => !migrations.includes(m));
      if (missing.length > 0 || extra.length > 0) {
        throw new Error(
          'the copy was made with a different schema' +
            (missing.length ? `; this forge lacks the migrations ${missing.join(', ')}` : '') +
            (extra.length ? `; the copy predates the migrations ${extra.join(', ')}` : '') +
            ': restore with the forge version that made it, then upgrade',
        );
      }
      target.#schemaIsOurs = true;
      await db.migrate();
    } catch (err) {
      await target.abandon();
      throw err;
    }
    return target;
  }

  /** Refuses unless the copy's tables and columns are exactly the target's. */
  async checkTables(tables: Array<{ name: string; columns: string[] }>): Promise<TableShape[]> {
    const ours = await listTables(this.db.dataSource);
    const byName = new Map(ours.map((t) => [t.name, t]));
    for (const t of tables) {
      const mine = byName.get(t.name);
      if (!mine) throw new Error(`table ${t.name} of the copy does not exist here`);
      const a = [...t.columns].sort().join(',');
      const b = [...mine.columns].sort().join(',');
      if (a !== b) throw new Error(`table ${t.name} has the columns (${t.columns.join(', ')}) in the copy and (${mine.columns.join(', ')}) here`);
    }
    const named = new Set(tables.map((t) => t.name));
    const unknown = ours.filter((t) => !named.has(t.name)).map((t) => t.name);
    if (unknown.length > 0) throw new Error(`the copy lacks the tables ${unknown.join(', ')}`);
    return tables.map((t) => ({ name: t.name, columns: t.columns }));
  }

  async begin(): Promise<void> {
    const runner = this.db.dataSource.createQueryRunner();
    await runner.connect();
    await runner.query('BEGIN');
    this.#runner = runner;
  }

  /** Queues one row (JSON text) for `table`; inserts a batch when it is full. */
  async add(table: TableShape, row: string): Promise<void> {
    let p = this.#pending.get(table.name);
    if (!p) this.#pending.set(table.name, (p = { table, rows: [], bytes: 0 }));
    p.rows.push(row);
    p.bytes += row.length;
    if (p.rows.length >= BATCH_ROWS || p.bytes >= BATCH_BYTES) await this.flush(table.name);
  }

  /** Inserts what is queued for `table` (call it before starting the next table: parents go first). */
  async flush(table: string): Promise<void> {
    const p = this.#pending.get(table);
    if (!p || p.rows.length === 0) return;
    const rows = p.rows;
    p.rows = [];
    p.bytes = 0;
    await insertTableRows(this.#runner!, p.table, rows);
  }

  /** Moves the sequences on, checks every table holds `expected` rows, and commits. */
  async finish(expected: Record<string, number>): Promise<void> {
    const runner = this.#runner!;
    for (const name of this.#pending.keys()) await this.flush(name);
    await resetSequences(runner);
    const counts = await countRows(runner, Object.keys(expected));
    for (const [name, n] of Object.entries(expected)) {
      if (counts[name] !== n) throw new Error(`table ${name}: ${counts[name]} rows written, the copy has ${n}`);
    }
    await runner.query('COMMIT');
    await runner.release();
    this.#runner = null;
  }

  /** Undoes everything: the transaction, the schema the migrations made, an embedded database created here. */
  async abandon(): Promise<void> {
    if (this.#runner) {
      await this.#runner.query('ROLLBACK').catch(() => {});
      await this.#runner.release().catch(() => {});
      this.#runner = null;
    }
    if (this.where.url && this.#schemaIsOurs) await dropRestoredSchema(this.db.dataSource).catch(() => {});
    await this.db.close().catch(() => {});
    if (!this.where.url && this.where.pgliteDir) await fs.rm(this.where.pgliteDir, { recursive: true, force: true });
  }

  close(): Promise<void> {
    return this.db.close();
  }
}
