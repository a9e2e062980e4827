import { CleanupMetrics, noMetrics, type CleanupProgress, type CleanupResult, type CleanupRunOptions, type CleanupTask, type Logger } from '@forge/core';
import type { RunnerLock } from './runner-lock.js';

export interface CleanupTaskReport {
  name: string;
  /** The task's result, or the message of the error that stopped it (the others still ran). */
  result?: CleanupResult;
  error?: string;
  ms: number;
}

export interface CleanupRunReport {
  dryRun: boolean;
  ownerId?: number;
  tasks: CleanupTaskReport[];
  /** Sum of the tasks' freed bytes. */
  bytes: number;
}

export interface RunCleanupOptions extends Omit<CleanupRunOptions, 'onProgress'> {
  onProgress?: (progress: CleanupProgress & { task: string }) => void;
  /**
   * When another process is running cleanup: wait for it (on-demand runs, polling every
   * `pollMs`), or give up at once and answer null (the scheduler: the other one does it).
   */
  wait?: boolean;
  pollMs?: number;
  /** Only the tasks of these names (tests, and a task's own on-demand run such as one cache's GC). */
  only?: readonly string[];
}

const TASK_NAME = /^[a-z][a-z0-9-]{0,47}$/;

/**
 * Runs the registered cleanup tasks one after another, in registration order (modules'
 * collections first, the host's blob sweeps last, so bytes a collection released are
 * swept in the same round once their grace has passed). One run at a time in this
 * process, and one among all processes on a database (RunnerLock).
 */
export class CleanupRunner {
  readonly #tasks: CleanupTask[] = [];
  /** Settles when the run in progress (in this process) is over. */
  #current: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly lock: RunnerLock,
    private readonly logger: Logger,
    private readonly metrics = new CleanupMetrics(noMetrics),
  ) {}

  register(task: CleanupTask): void {
    if (!TASK_NAME.test(task.name)) throw new Error(`cleanup task name "${task.name}" must match ${TASK_NAME}`);
    if (this.#tasks.some((t) => t.name === task.name)) throw new Error(`two cleanup tasks are named "${task.name}"`);
    this.#tasks.push(task);
  }

  get taskNames(): string[] {
    return this.#tasks.map((t) => t.name);
  }

  /** Runs every task (or those named in `only`); null when another process holds the lock and `wait` is off. */
  run(options: RunCleanupOptions): Promise<CleanupRunReport | null> {
    if (options.only) {
      const unknown = options.only.filter((name) => !this.#tasks.some((t) => t.name === name));
      if (unknown.length > 0) throw new Error(`no cleanup task named ${unknown.join(', ')}`);
    }
    const run = this.#current.then(() => this.#runLocked(options));
    this.#current = run.catch(() => {});
    return run;
  }

  async #runLocked(options: RunCleanupOptions): Promise<CleanupRunReport | null> {
    let release = await this.lock.tryAcquire();
    while (!release) {
      if (!options.wait) return null;
      options.onProgress?.({ task: 'waiting', step: 'waiting for the cleanup another server process is running', done: 0 });
      await sleep(options.pollMs ?? 1000, options.signal);
      release = await this.lock.tryAcquire();
    }
    try {
      const report: CleanupRunReport = { dryRun: options.dryRun, ownerId: options.ownerId, tasks: [], bytes: 0 };
      for (const task of this.#tasks) {
        if (options.only && !options.only.includes(task.name)) continue;
        // Host-wide tasks do not belong to a run for one owner.
        if (options.ownerId !== undefined && !task.perOwner) continue;
        if (options.signal?.aborted) break;
        const started = Date.now();
        try {
          const result = await task.run({
            dryRun: options.dryRun,
            ownerId: options.ownerId,
            signal: options.signal,
            onProgress: options.onProgress ? (p) => options.onProgress!({ ...p, task: task.name }) : undefined,
          });
          report.tasks.push({ name: task.name, result, ms: Date.now() - started });
          report.bytes += result.bytes;
          if (!options.dryRun) this.metrics.taskRan(task.name, 'ok', result.bytes);
        } catch (err) {
          // One task failing (a storage outage) must not keep the others from running.
          this.logger.error('cleanup task failed', { task: task.name, err: (err as Error).message });
          report.tasks.push({ name: task.name, error: (err as Error).message, ms: Date.now() - started });
          if (!options.dryRun) this.metrics.taskRan(task.name, 'failed');
        }
      }
      return report;
    } finally {
      await release().catch((err: Error) => this.logger.warn('cleanup lock release failed', { err: err.message }));
    }
  }

  /** Resolves when the run in progress, if any, is over. */
  idle(): Promise<void> {
    return this.#current.then(() => {});
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
