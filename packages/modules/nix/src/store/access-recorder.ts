import type { DataSource } from 'typeorm';
import type { Logger } from '@forge/core';

/**
 * Records that store paths were read (narinfo GETs), for retention by last access. Reads
 * are collected in memory and written in one UPDATE every few seconds: a narinfo hit must
 * not cost a write.
 */
export class AccessRecorder {
  #pending = new Set<number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ds: DataSource,
    private readonly logger: Logger,
    private readonly intervalMs = 10_000,
  ) {}

  record(pathId: number): void {
    this.#pending.add(pathId);
    this.#timer ??= setTimeout(() => void this.flush(), this.intervalMs).unref();
  }

  async flush(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending.size === 0) return;
    const ids = [...this.#pending];
    this.#pending = new Set();
    try {
      await this.ds.query(`UPDATE nix_store_path SET last_accessed_at = now() WHERE id = ANY($1::int[])`, [ids]);
    } catch (err) {
      this.logger.warn('could not record store path accesses', { err: (err as Error).message, count: ids.length });
    }
  }
}
