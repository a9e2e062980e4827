import type { DataSource } from 'typeorm';
import { queryRows } from '@forge/db';

/**
 * The counters of `SignInThrottle`, in the database so that every server process on it
 * counts the same failures (table `sign_in_throttle`). Each statement is one round trip
 * and atomic, so concurrent sign-ins in several processes never lose a count. Time is the
 * database's (`now()`), so processes with skewed clocks agree on windows.
 */
export class ThrottleStore {
  constructor(private readonly ds: DataSource) {}

  /**
   * Counts one attempt for `key` in its current window of `windowSeconds` (a window that
   * has ended starts anew) and returns the count and the seconds until the window ends.
   */
  async count(key: string, windowSeconds: number): Promise<{ failures: number; retryAfter: number }> {
    const [row] = await queryRows<{ failures: number; retry_after: number | string }>(
      this.ds,
      `INSERT INTO sign_in_throttle AS t (key, failures, window_start) VALUES ($1, 1, now())
       ON CONFLICT (key) DO UPDATE SET
         failures = CASE WHEN t.window_start > now() - $2::int * interval '1 second' THEN t.failures + 1 ELSE 1 END,
         window_start = CASE WHEN t.window_start > now() - $2::int * interval '1 second' THEN t.window_start ELSE now() END
       RETURNING failures, extract(epoch FROM window_start + $2::int * interval '1 second' - now()) AS retry_after`,
      [key, windowSeconds],
    );
    return { failures: Number(row!.failures), retryAfter: Number(row!.retry_after) };
  }

  /** Forgets `key` (an account whose owner signed in). */
  async reset(key: string): Promise<void> {
    await this.ds.query(`DELETE FROM sign_in_throttle WHERE key = $1`, [key]);
  }

  /** Takes back one counted attempt (an address whose attempt succeeded). */
  async uncount(key: string): Promise<void> {
    await this.ds.query(`UPDATE sign_in_throttle SET failures = greatest(failures - 1, 0) WHERE key = $1`, [key]);
  }

  /** Deletes the rows whose window (of `windowSeconds`) has ended: they count nothing any more. */
  async prune(windowSeconds: number): Promise<void> {
    await this.ds.query(`DELETE FROM sign_in_throttle WHERE window_start < now() - $1::int * interval '1 second'`, [windowSeconds]);
  }
}
