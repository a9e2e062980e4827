import type { DataSource } from 'typeorm';

/**
 * At most one cleanup runner among the server processes sharing a database. Cleanup is
 * correct when two run at once (every deletion re-checks under the locks writers take);
 * one runner only avoids doing the same work twice and two progress bars fighting.
 */
export interface RunnerLock {
  /** The lock, or null when another process holds it. Release it when done. */
  tryAcquire(): Promise<(() => Promise<void>) | null>;
}

/** Arbitrary constant: the session advisory lock held by the process running cleanup ("Forc"). */
export const CLEANUP_LOCK_ID = 0x466f7263;

/**
 * PostgreSQL: a session-level advisory lock on a connection held for the whole run. If
 * this process dies, PostgreSQL drops the connection and with it the lock, so the next
 * interval of another process runs instead.
 */
export class PostgresRunnerLock implements RunnerLock {
  constructor(private readonly ds: DataSource) {}

  async tryAcquire(): Promise<(() => Promise<void>) | null> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [row] = (await runner.query('SELECT pg_try_advisory_lock($1) AS locked', [CLEANUP_LOCK_ID])) as Array<{ locked: boolean }>;
      if (!row?.locked) {
        await runner.release();
        return null;
      }
    } catch (err) {
      await runner.release();
      throw err;
    }
    return async () => {
      try {
        await runner.query('SELECT pg_advisory_unlock($1)', [CLEANUP_LOCK_ID]);
      } finally {
        await runner.release();
      }
    };
  }
}

/**
 * PGlite belongs to one process, so the in-process serialisation of CleanupRunner is all
 * there is to it; holding a connection would even block every other query (PGlite has one).
 */
export class ProcessRunnerLock implements RunnerLock {
  async tryAcquire(): Promise<() => Promise<void>> {
    return async () => {};
  }
}
