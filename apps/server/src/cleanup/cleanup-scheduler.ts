import type { Logger } from '@forge/core';
import type { CleanupRunner } from './cleanup-runner.js';

/**
 * Runs cleanup every `FORGE_CLEANUP_INTERVAL` (0 = never). The first run comes one
 * interval after start-up (start-up already sweeps staging), the next one interval after
 * the previous run ended, so runs never overlap and a slow one is never stacked. In a
 * process that loses the race for the runner lock the round is skipped: another process
 * does it.
 */
export class CleanupScheduler {
  #timer: NodeJS.Timeout | undefined;
  readonly #abort = new AbortController();
  #stopped = false;

  constructor(
    private readonly runner: CleanupRunner,
    private readonly intervalMs: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.#stopped) return;
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = setTimeout(() => void this.#tick(), this.intervalMs);
    // A pending cleanup never keeps the process alive.
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    try {
      const report = await this.runner.run({ dryRun: false, signal: this.#abort.signal });
      if (!report) this.logger.debug('scheduled cleanup skipped: another server process is running it');
      else {
        this.logger.info('scheduled cleanup done', {
          bytes: report.bytes,
          tasks: Object.fromEntries(report.tasks.map((t) => [t.name, t.error ? `failed: ${t.error}` : t.result?.summary])),
        });
      }
    } catch (err) {
      if (!this.#stopped) this.logger.error('scheduled cleanup failed', { err: (err as Error).message });
    } finally {
      if (!this.#stopped) this.#schedule();
    }
  }

  /** Stops scheduling and asks a run in progress to stop between batches; resolves when it has. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort(new Error('the server is shutting down'));
    await this.runner.idle();
  }
}
