import { Counter } from 'prom-client';
import { memoStats } from '@forge/core';
import type { Database } from '@forge/db';
import type { Registry } from '@forge/registry';
import type { PrometheusMetrics } from './prometheus.js';

/** How long stored-bytes figures are reused between scrapes (a count over every blob row is not free). */
const STORAGE_FIGURES_TTL_MS = 60_000;

/**
 * The host's own figures, read at scrape time: stored blobs and bytes, the database pool,
 * the memos' hits and misses, and what this server is (`forge_info`).
 */
export function registerHostMetrics(
  prometheus: PrometheusMetrics,
  services: { db: Database; registry: Registry; info: Record<string, string>; draining: () => boolean },
): void {
  const { db, registry } = services;
  let storage: { at: number; figures: Promise<{ blobs: number; bytes: number }> } | undefined;
  const storageFigures = () => {
    if (!storage || Date.now() - storage.at > STORAGE_FIGURES_TTL_MS) {
      storage = { at: Date.now(), figures: registry.blobTotals() };
      storage.figures.catch(() => (storage = undefined));
    }
    return storage.figures;
  };
  prometheus.observedGauge({ name: 'forge_storage_blobs', help: 'Blobs stored (each counted once, however many files share it)', aggregate: 'first' }, async () => [
    { value: (await storageFigures()).blobs },
  ]);
  prometheus.observedGauge({ name: 'forge_storage_bytes', help: 'Bytes of the blobs stored (each counted once)', aggregate: 'first' }, async () => [
    { value: (await storageFigures()).bytes },
  ]);
  prometheus.observedGauge(
    { name: 'forge_db_pool_connections', help: 'Database connections of this process, by state (idle, busy)', labelNames: ['state'] },
    () => {
      const pool = db.poolStats();
      return [
        { labels: { state: 'idle' }, value: pool.idle },
        { labels: { state: 'busy' }, value: pool.total - pool.idle },
      ];
    },
  );
  prometheus.observedGauge({ name: 'forge_db_pool_waiting', help: 'Callers waiting for a database connection' }, () => [{ value: db.poolStats().waiting }]);
  prometheus.observedGauge({ name: 'forge_db_pool_max', help: 'Most connections the pool of this process opens (FORGE_DB_POOL_SIZE; 1 on PGlite)' }, () => [
    { value: db.poolStats().max },
  ]);
  prometheus.observedGauge({ name: 'forge_memo_entries', help: 'Entries held by the in-process memos, by memo', labelNames: ['memo'] }, () =>
    memoStats().map((s) => ({ labels: { memo: s.name }, value: s.entries })),
  );
  prometheus.observedGauge({ name: 'forge_memo_bytes', help: 'Bytes held by the in-process memos as they count them, by memo', labelNames: ['memo'] }, () =>
    memoStats().map((s) => ({ labels: { memo: s.name }, value: s.bytes })),
  );
  // Counters the memos keep themselves (a plain integer each), copied out at scrape time.
  new Counter({
    name: 'forge_memo_lookups_total',
    help: 'Lookups in the in-process memos, by memo and result (hit, miss)',
    labelNames: ['memo', 'result'],
    registers: [prometheus.registry],
    collect() {
      this.reset();
      for (const s of memoStats()) {
        this.inc({ memo: s.name, result: 'hit' }, s.hits);
        this.inc({ memo: s.name, result: 'miss' }, s.misses);
      }
    },
  });
  prometheus.observedGauge({ name: 'forge_info', help: 'What this server runs: version, database, storage, decoders (always 1)', labelNames: Object.keys(services.info), aggregate: 'first' }, () => [
    { labels: services.info, value: 1 },
  ]);
  prometheus.observedGauge({ name: 'forge_draining', help: '1 while the server stops: it accepts no new connections and lets transfers finish', aggregate: 'max' }, () => [
    { value: services.draining() ? 1 : 0 },
  ]);
}
