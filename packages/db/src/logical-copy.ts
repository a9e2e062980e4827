import type { DataSource, QueryRunner } from 'typeorm';

/**
 * A logical copy of every table, the same on PGlite and PostgreSQL: rows leave as
 * PostgreSQL's own JSON (`row_to_json`) and come back through `json_populate_recordset`,
 * so every type (timestamptz, jsonb, bigint, bytea, arrays) is converted by the database
 * itself, both ways. `forge admin dump`/`restore` and `migrate-db` are built on it
 * (docs/operations.md, "Backups and moving to PostgreSQL"). pg_dump would need the server's
 * binaries of the same major version, and has no PGlite build here.
 */

/** The table that records applied migrations: created by the target's own migrations, never copied. */
export const MIGRATIONS_TABLE = 'forge_migrations';

export interface TableShape {
  name: string;
  /** Insertable columns (generated columns excluded), in the table's order. */
  columns: string[];
}

/** Anything that runs SQL: a query runner, or a data source. */
export interface Queryable {
  query(sql: string, params?: unknown[]): Promise<any>;
}

const quote = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * The schema's tables, parents before children (by foreign key), so rows can be inserted
 * in this order with every constraint checked as they go.
 */
export async function listTables(q: Queryable): Promise<TableShape[]> {
  const tables = (await q.query(
    `SELECT c.oid::int AS oid, c.relname AS name
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND c.relname <> $1
      ORDER BY c.relname`,
    [MIGRATIONS_TABLE],
  )) as Array<{ oid: number; name: string }>;
  const columns = (await q.query(
    `SELECT a.attrelid::int AS oid, a.attname AS name
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
      ORDER BY a.attrelid, a.attnum`,
  )) as Array<{ oid: number; name: string }>;
  const edges = (await q.query(
    `SELECT conrelid::int AS child, confrelid::int AS parent
       FROM pg_constraint WHERE contype = 'f' AND connamespace = current_schema()::regnamespace`,
  )) as Array<{ child: number; parent: number }>;

  const byOid = new Map(tables.map((t) => [t.oid, { name: t.name, columns: [] as string[] }]));
  for (const c of columns) byOid.get(c.oid)?.columns.push(c.name);
  const parents = new Map<number, Set<number>>(tables.map((t) => [t.oid, new Set()]));
  for (const e of edges) if (e.child !== e.parent && byOid.has(e.parent)) parents.get(e.child)?.add(e.parent);

  // Kahn's algorithm, alphabetical among equals so the order is stable between runs.
  const ordered: TableShape[] = [];
  const done = new Set<number>();
  while (done.size < tables.length) {
    const ready = tables.filter((t) => !done.has(t.oid) && [...parents.get(t.oid)!].every((p) => done.has(p)));
    if (ready.length === 0) {
      const stuck = tables.filter((t) => !done.has(t.oid)).map((t) => t.name);
      throw new Error(`the foreign keys between ${stuck.join(', ')} form a cycle: no insertion order exists`);
    }
    for (const t of ready) {
      done.add(t.oid);
      ordered.push(byOid.get(t.oid)!);
    }
  }
  return ordered;
}

/** Names of the applied migrations, oldest first. */
export async function appliedMigrations(q: Queryable): Promise<string[]> {
  const rows = (await q.query(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY timestamp, id`)) as Array<{ name: string }>;
  return rows.map((r) => r.name);
}

/** True when the current schema holds no table at all (an empty database to restore into). */
export async function isEmptySchema(q: Queryable): Promise<boolean> {
  const rows = (await q.query(
    `SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'S')`,
  )) as Array<{ n: number }>;
  return rows[0]!.n === 0;
}

/** Rows of one table as JSON texts, in batches, through a cursor (constant memory). */
export async function* readTableRows(q: QueryRunner, table: string, batchRows = 2000): AsyncGenerator<string[]> {
  const cursor = `forge_copy_${table.replace(/\W/g, '_')}`;
  await q.query(`DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT row_to_json(t)::text AS j FROM ${quote(table)} t`);
  try {
    for (;;) {
      const rows = (await q.query(`FETCH ${batchRows} FROM ${cursor}`)) as Array<{ j: string }>;
      if (rows.length === 0) return;
      yield rows.map((r) => r.j);
      if (rows.length < batchRows) return;
    }
  } finally {
    await q.query(`CLOSE ${cursor}`);
  }
}

/**
 * A read-only snapshot of the whole database: every read through `runner` sees the same
 * instant (REPEATABLE READ), whatever is written meanwhile. On PGlite, which is one session,
 * the snapshot holds that session: the server's other queries wait until `close()`.
 */
export async function openSnapshot(ds: DataSource): Promise<{ runner: QueryRunner; close(): Promise<void> }> {
  const runner = ds.createQueryRunner();
  await runner.connect();
  try {
    await runner.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  } catch (err) {
    await runner.release();
    throw err;
  }
  return {
    runner,
    async close() {
      try {
        await runner.query('COMMIT');
      } finally {
        await runner.release();
      }
    },
  };
}

/**
 * Inserts rows (JSON texts as `readTableRows` yields them) into a table through
 * `json_populate_recordset`; `columns` names what to insert (what the dump recorded),
 * so a column's default applies only where the copy has no value for it.
 */
export async function insertTableRows(q: Queryable, table: TableShape, rows: string[]): Promise<void> {
  if (rows.length === 0) return;
  const cols = table.columns.map(quote).join(', ');
  await q.query(
    `INSERT INTO ${quote(table.name)} (${cols}) OVERRIDING SYSTEM VALUE
     SELECT ${cols} FROM json_populate_recordset(NULL::${quote(table.name)}, $1::json)`,
    [`[${rows.join(',')}]`],
  );
}

/** Moves every serial/identity sequence past the largest value its column holds. */
export async function resetSequences(q: Queryable): Promise<void> {
  const owned = (await q.query(
    `SELECT c.relname AS table, a.attname AS column, pg_get_serial_sequence(quote_ident(c.relname), a.attname) AS seq
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped
        AND pg_get_serial_sequence(quote_ident(c.relname), a.attname) IS NOT NULL`,
  )) as Array<{ table: string; column: string; seq: string }>;
  for (const s of owned) {
    await q.query(
      `SELECT setval($1, COALESCE((SELECT max(${quote(s.column)}) FROM ${quote(s.table)}), 0) + 1, false)`,
      [s.seq],
    );
  }
}

/** Row counts per table, for checking a copy against what was read. */
export async function countRows(q: Queryable, tables: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) {
    const rows = (await q.query(`SELECT count(*)::bigint AS n FROM ${quote(t)}`)) as Array<{ n: string | number }>;
    out[t] = Number(rows[0]!.n);
  }
  return out;
}

/**
 * Drops every table, view and sequence of the current schema. Only for undoing a restore
 * that failed halfway into a schema this process found empty (so all of it is the restore's).
 */
export async function dropRestoredSchema(q: Queryable): Promise<void> {
  const rows = (await q.query(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition`,
  )) as Array<{ name: string }>;
  for (const r of rows) await q.query(`DROP TABLE IF EXISTS ${quote(r.name)} CASCADE`);
  const seqs = (await q.query(
    `SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = current_schema() AND c.relkind = 'S'`,
  )) as Array<{ name: string }>;
  for (const s of seqs) await q.query(`DROP SEQUENCE IF EXISTS ${quote(s.name)} CASCADE`);
}

/** The blobs the registry's rows name (sha256 and size), in hash order, in batches. */
export async function* readReferencedBlobs(q: QueryRunner, batchRows = 5000): AsyncGenerator<Array<{ sha256: string; size: number }>> {
  await q.query('DECLARE forge_copy_blobs NO SCROLL CURSOR FOR SELECT sha256, size::text AS size FROM package_blob ORDER BY sha256');
  try {
    for (;;) {
      const rows = (await q.query(`FETCH ${batchRows} FROM forge_copy_blobs`)) as Array<{ sha256: string; size: string }>;
      if (rows.length === 0) return;
      yield rows.map((r) => ({ sha256: r.sha256.trim(), size: Number(r.size) }));
      if (rows.length < batchRows) return;
    }
  } finally {
    await q.query('CLOSE forge_copy_blobs');
  }
}
