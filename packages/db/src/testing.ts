import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { DatabaseKind, DatabaseOptions } from './data-source.js';

/**
 * Throwaway databases for tests. Every integration suite runs on the embedded PGlite and
 * on PostgreSQL. In CI a missing PostgreSQL is a failure; elsewhere it is skipped loudly.
 */

export const TEST_POSTGRES_URL = process.env.FORGE_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let probed: Promise<boolean> | null = null;

async function postgresReachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * The database kinds the current run must cover: `FORGE_TEST_DATABASES` (comma list)
 * or both. Throws in CI when PostgreSQL is wanted but unreachable.
 */
export async function testDatabaseKinds(): Promise<DatabaseKind[]> {
  const wanted = (process.env.FORGE_TEST_DATABASES ?? 'pglite,postgres').split(',').map((s) => s.trim()) as DatabaseKind[];
  if (!wanted.includes('postgres')) return wanted;
  probed ??= postgresReachable();
  if (await probed) return wanted;
  const message = `PostgreSQL is not reachable at ${TEST_POSTGRES_URL}`;
  if (process.env.CI) throw new Error(`${message}; CI must run every suite on PostgreSQL too.`);
  console.warn(`\n!!! ${message}: SKIPPING the PostgreSQL runs of this suite. Start PostgreSQL to run them. !!!\n`);
  return wanted.filter((k) => k !== 'postgres');
}

export interface TestDatabase {
  kind: DatabaseKind;
  options: DatabaseOptions;
  /** Drops the database (PostgreSQL); PGlite in-memory databases vanish on close. */
  drop(): Promise<void>;
}

/** A fresh, empty database of the given kind. */
export async function createTestDatabase(kind: DatabaseKind, pgliteDir?: string): Promise<TestDatabase> {
  if (kind === 'pglite') {
    return { kind, options: { pgliteDir }, drop: async () => {} };
  }
  const name = `forge_t_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    kind,
    options: { url: url.toString(), poolSize: 5 },
    async drop() {
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
