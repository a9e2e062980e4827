import fs from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { DataSource, type EntitySchema, type MixedList } from 'typeorm';
import { hostEntities } from './entities.js';
import { HostSchema1732406400000 } from './migrations/1732406400000-host-schema.js';
import { SignInThrottle1796098695474 } from './migrations/1796098695474-sign-in-throttle.js';
import { BlobDigests1796300000000 } from './migrations/1796300000000-blob-digests.js';
import { createPgliteDatabaseOutOfProcess, PGLITE_START_PARAMS } from './pglite-memory.js';
import { OwnerStorage1796113605329 } from './migrations/1796113605329-owner-storage.js';
import { pgliteDriver } from './pglite-pool.js';

export type DatabaseKind = 'pglite' | 'postgres';

export interface DatabaseOptions {
  /** `postgres://…` selects PostgreSQL through `pg`; otherwise the embedded PGlite is used. */
  url?: string;
  /** PGlite data directory; omitted means an in-memory database (tests). */
  pgliteDir?: string;
  /** Connections per process (PostgreSQL only). */
  poolSize?: number;
  /** Log every SQL statement (debugging). */
  logSql?: boolean;
}

export interface DatabaseExtensions {
  /** Module entity schemas, added to the host's. */
  entities?: EntitySchema[];
  /** Module migrations, run with the host's in timestamp order. */
  migrations?: MixedList<Function>[];
}

export interface Database {
  kind: DatabaseKind;
  dataSource: DataSource;
  /** Applies pending migrations (host and modules). Safe to call from several processes at once. */
  migrate(): Promise<void>;
  /** The connection pool now (for /metrics): connections open, idle, and callers waiting for one. */
  poolStats(): PoolStats;
  close(): Promise<void>;
}

export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  /** The most connections the pool opens. */
  max: number;
}

export const hostMigrations = [HostSchema1732406400000, SignInThrottle1796098695474, OwnerStorage1796113605329, BlobDigests1796300000000];

/** Arbitrary constant: the advisory lock that serialises migrations across processes. */
const MIGRATION_LOCK_ID = 0x466f7267; // "Forg"

export async function openDatabase(options: DatabaseOptions, extensions: DatabaseExtensions = {}): Promise<Database> {
  const entities = [...hostEntities, ...(extensions.entities ?? [])];
  const migrations = [...hostMigrations, ...(extensions.migrations ?? []).flatMap((m) => (Array.isArray(m) ? m : Object.values(m)))];
  const common = {
    entities,
    migrations: migrations as Function[],
    migrationsTableName: 'forge_migrations',
    synchronize: false,
    // Failed queries surface as exceptions that callers map (unique violations are routine).
    logging: options.logSql ? ('all' as const) : false,
  };

  let kind: DatabaseKind;
  let dataSource: DataSource;
  if (options.url) {
    kind = 'postgres';
    dataSource = new DataSource({
      type: 'postgres',
      url: options.url,
      poolSize: options.poolSize ?? 10,
      // bigint columns (sizes) as numbers: every size we store is far below 2^53.
      parseInt8: true,
      ...common,
    });
  } else {
    kind = 'pglite';
    const dir = options.pgliteDir;
    if (dir) {
      await fs.mkdir(path.dirname(dir), { recursive: true });
      await createPgliteDatabaseOutOfProcess(dir);
    }
    dataSource = new DataSource({
      type: 'postgres',
      driver: pgliteDriver(() => PGlite.create({ ...(dir ? { dataDir: dir } : {}), startParams: PGLITE_START_PARAMS })),
      ...common,
    });
  }
  await dataSource.initialize();

  return {
    kind,
    dataSource,
    async migrate() {
      if (kind === 'postgres') {
        // Several server processes may start at once against one PostgreSQL.
        const runner = dataSource.createQueryRunner();
        await runner.connect();
        try {
          await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
          await dataSource.runMigrations({ transaction: 'each' });
        } finally {
          await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => {});
          await runner.release();
        }
      } else {
        await dataSource.runMigrations({ transaction: 'each' });
      }
    },
    poolStats() {
      // TypeORM's postgres driver keeps its pool as `master`: a pg.Pool, or the PGlite lease pool.
      const pool = (dataSource.driver as unknown as { master?: { totalCount: number; idleCount: number; waitingCount: number } }).master;
      return { total: pool?.totalCount ?? 0, idle: pool?.idleCount ?? 0, waiting: pool?.waitingCount ?? 0, max: kind === 'postgres' ? (options.poolSize ?? 10) : 1 };
    },
    async close() {
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}
