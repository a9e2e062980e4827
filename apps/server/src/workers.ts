import cluster, { type Worker } from 'node:cluster';
import type { Logger } from '@forge/core';
import type { ForgeConfig } from './config.js';

/** The message a worker sends its primary once it listens. */
export const WORKER_READY = 'forge:listening';

/** Index of this worker (0 … N-1) when it runs under `FORGE_WORKERS`; undefined otherwise. */
export function workerIndex(): number | undefined {
  if (cluster.isPrimary) return undefined;
  const index = Number(process.env.FORGE_WORKER_INDEX);
  return Number.isInteger(index) ? index : undefined;
}

/** Tells the primary this worker is serving (no-op outside a cluster). */
export function reportReady(): void {
  if (!cluster.isPrimary) process.send?.({ type: WORKER_READY });
}

/** How long stopping workers get before they are killed. */
const STOP_GRACE_MS = 30_000;
/** A worker that dies is restarted after this delay, doubled while it keeps dying young. */
const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MAX_MS = 30_000;

/**
 * `FORGE_WORKERS=N`: N server processes on one port (node:cluster hands connections round
 * robin). Every worker is a whole server with its own database pool and memos; the change
 * notices that keep separate replicas coherent (PostgreSQL LISTEN/NOTIFY) keep the workers
 * coherent too. PGlite is one process's database, so workers need PostgreSQL.
 *
 * A worker that fails before it listens is a start-up error (a wrong setting): every
 * worker is stopped and the primary exits 1, instead of restarting in a loop. A worker
 * that dies later is restarted. SIGTERM or SIGINT to the primary stops every worker (each
 * closes its server and database) and then the primary.
 */
export async function runPrimary(config: ForgeConfig, logger: Logger): Promise<void> {
  if (!config.databaseUrl) {
    throw new Error(`FORGE_WORKERS=${config.workers} needs PostgreSQL (DATABASE_URL): the embedded PGlite database belongs to one process`);
  }
  const ready = new Set<Worker>();
  const indexOf = new Map<Worker, number>();
  const restartDelay = new Map<number, number>();
  let stopping = false;

  const fork = (index: number) => {
    const worker = cluster.fork({ FORGE_WORKER_INDEX: String(index) });
    indexOf.set(worker, index);
    worker.on('message', (message: { type?: string }) => {
      if (message?.type !== WORKER_READY) return;
      ready.add(worker);
      if (ready.size === config.workers) logger.info('forge workers listening', { workers: config.workers, port: config.port });
    });
  };

  const stopAll = async (signal: NodeJS.Signals) => {
    const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w && !w.isDead());
    await Promise.all(
      alive.map(
        (worker) =>
          new Promise<void>((resolve) => {
            worker.once('exit', () => resolve());
            worker.process.kill(signal);
            setTimeout(() => worker.process.kill('SIGKILL'), STOP_GRACE_MS).unref();
          }),
      ),
    );
  };

  cluster.on('exit', (worker, code, signal) => {
    const index = indexOf.get(worker)!;
    const wasReady = ready.delete(worker);
    indexOf.delete(worker);
    if (stopping) return;
    if (!wasReady) {
      // The worker printed why on its stderr.
      stopping = true;
      logger.error('a forge worker failed to start; stopping', { worker: index, code, signal });
      void stopAll('SIGTERM').then(() => process.exit(1));
      return;
    }
    const delay = restartDelay.get(index) ?? RESTART_DELAY_MS;
    restartDelay.set(index, Math.min(delay * 2, RESTART_DELAY_MAX_MS));
    logger.warn('a forge worker died; restarting it', { worker: index, code, signal, inMs: delay });
    setTimeout(() => {
      if (!stopping) fork(index);
    }, delay).unref();
    // A worker that then serves for a minute is healthy again.
    setTimeout(() => restartDelay.delete(index), 60_000).unref();
  });

  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down workers', { signal });
    await stopAll(signal);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  for (let i = 0; i < config.workers; i++) fork(i);
}
