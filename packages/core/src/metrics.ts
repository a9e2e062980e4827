/**
 * What modules and services record for `/metrics`, without importing a metrics library:
 * the host backs this with prom-client when `FORGE_METRICS=1` and with {@link noMetrics}
 * otherwise (every call a no-op). Names follow Prometheus conventions (`forge_` prefix,
 * `_total` for counters, base units: seconds, bytes); label values must come from a small
 * fixed set (a route pattern, a reason code), never from user input such as a URL.
 */
export type MetricLabels = Readonly<Record<string, string>>;

export interface CounterMetric {
  inc(labels?: MetricLabels, value?: number): void;
}

export interface HistogramMetric {
  observe(labels: MetricLabels | undefined, value: number): void;
}

export interface GaugeMetric {
  set(labels: MetricLabels | undefined, value: number): void;
}

export interface MetricDefinition {
  /** `forge_…`, unique in the process. */
  name: string;
  help: string;
  labelNames?: readonly string[];
  /**
   * How the workers' values combine when `FORGE_WORKERS` runs several processes: `sum`
   * (default: requests, connections) or `first` (a figure every worker reads alike, such
   * as the bytes stored).
   */
  aggregate?: 'sum' | 'first' | 'max';
}

export interface Metrics {
  counter(definition: MetricDefinition): CounterMetric;
  histogram(definition: MetricDefinition & { buckets?: readonly number[] }): HistogramMetric;
  gauge(definition: MetricDefinition): GaugeMetric;
  /**
   * A gauge read when metrics are scraped (stored bytes, pool size): `read` answers its
   * current values, one per label set. Called at most once per scrape.
   */
  observedGauge(definition: MetricDefinition, read: () => Promise<GaugeReading[]> | GaugeReading[]): void;
}

export interface GaugeReading {
  labels?: MetricLabels;
  value: number;
}

const nothing = { inc() {}, observe() {}, set() {} };

/** Metrics turned off: nothing is recorded and nothing costs more than a call. */
export const noMetrics: Metrics = {
  counter: () => nothing,
  histogram: () => nothing,
  gauge: () => nothing,
  observedGauge: () => {},
};

/** Seconds since `start` (from `process.hrtime.bigint()`), for duration histograms. */
export function secondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/**
 * Cleanup's figures (garbage collections, blob sweeps): the host's cleanup runner records
 * every task it runs, scheduled or on demand, so every way of running one counts alike.
 */
export class CleanupMetrics {
  readonly #runs;
  readonly #freed;

  constructor(metrics: Metrics) {
    this.#runs = metrics.counter({ name: 'forge_cleanup_runs_total', help: 'Cleanup task runs (not dry runs), by task and outcome (ok, failed)', labelNames: ['task', 'outcome'] });
    this.#freed = metrics.counter({ name: 'forge_cleanup_freed_bytes_total', help: 'Bytes of storage freed by cleanup tasks, by task', labelNames: ['task'] });
  }

  taskRan(task: string, outcome: 'ok' | 'failed', freedBytes = 0): void {
    this.#runs.inc({ task, outcome });
    if (freedBytes > 0) this.#freed.inc({ task }, freedBytes);
  }
}
