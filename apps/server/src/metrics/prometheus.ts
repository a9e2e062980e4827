import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GaugeReading, MetricDefinition, Metrics } from '@forge/core';

/**
 * The host's {@link Metrics}, backed by prom-client (`FORGE_METRICS=1`). Each server gets
 * its own registry (tests run several servers in one process); the process metrics
 * (`process_*`, `nodejs_*`) come from prom-client's default collectors.
 */
export class PrometheusMetrics implements Metrics {
  readonly registry = new Registry();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  counter(definition: MetricDefinition) {
    const counter = this.#existing(definition.name, Counter) ?? new Counter({ ...this.#base(definition), registers: [this.registry] });
    return { inc: (labels?: Record<string, string>, value = 1) => (labels ? counter.inc(labels, value) : counter.inc(value)) };
  }

  histogram(definition: MetricDefinition & { buckets?: readonly number[] }) {
    const histogram =
      this.#existing(definition.name, Histogram) ??
      new Histogram({ ...this.#base(definition), buckets: definition.buckets ? [...definition.buckets] : undefined, registers: [this.registry] });
    return { observe: (labels: Record<string, string> | undefined, value: number) => (labels ? histogram.observe(labels, value) : histogram.observe(value)) };
  }

  gauge(definition: MetricDefinition) {
    const gauge = this.#existing(definition.name, Gauge) ?? new Gauge({ ...this.#base(definition), registers: [this.registry] });
    return { set: (labels: Record<string, string> | undefined, value: number) => (labels ? gauge.set(labels, value) : gauge.set(value)) };
  }

  observedGauge(definition: MetricDefinition, read: () => Promise<GaugeReading[]> | GaugeReading[]): void {
    new Gauge({
      ...this.#base(definition),
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const { labels, value } of await read()) {
          if (labels) this.set(labels, value);
          else this.set(value);
        }
      },
    });
  }

  /** The text a scrape answers with. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  #base(definition: MetricDefinition) {
    return { name: definition.name, help: definition.help, labelNames: [...(definition.labelNames ?? [])], aggregator: definition.aggregate ?? 'sum' };
  }

  /** A second definition of one name (two use cases recording one counter) shares it. */
  #existing<T>(name: string, kind: abstract new (...args: never[]) => T): T | undefined {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return undefined;
    if (!(metric instanceof kind)) throw new Error(`metric ${name} is already defined as another kind`);
    return metric as T;
  }
}
