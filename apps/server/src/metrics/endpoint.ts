import { timingSafeEqual, createHash } from 'node:crypto';
import cluster from 'node:cluster';
import type { RequestHandler } from 'express';
import { AggregatorRegistry } from 'prom-client';
import type { PrometheusMetrics } from './prometheus.js';

const REQUEST = 'forge:metrics-request';
const ANSWER = 'forge:metrics-answer';
/** prom-client's own wait for the workers' answers is 5 s; ours covers it. */
const CLUSTER_WAIT_MS = 6_000;

/**
 * `GET /metrics` in Prometheus text format. With `FORGE_METRICS_TOKEN` set, only a scrape
 * with `Authorization: Bearer <token>` gets them (401 otherwise, as Gitea's
 * `[metrics] TOKEN`). Under `FORGE_WORKERS` a worker asks the primary, which gathers every
 * worker's figures (prom-client's AggregatorRegistry): one scrape sees the whole server.
 */
export function metricsEndpoint(prometheus: PrometheusMetrics, token: string | undefined): RequestHandler {
  const expected = token ? digest(token) : undefined;
  const inCluster = cluster.isWorker && typeof process.send === 'function';
  if (inCluster) answerPrimaryScrapes(prometheus);
  return async (req, res) => {
    if (expected) {
      const header = req.headers.authorization ?? '';
      const offered = /^Bearer\s+(.+)$/i.exec(header)?.[1];
      if (!offered || !timingSafeEqual(digest(offered), expected)) {
        res.status(401).set('WWW-Authenticate', 'Bearer realm="metrics"').type('text/plain').send('metrics need the bearer token (FORGE_METRICS_TOKEN)\n');
        return;
      }
    }
    const text = inCluster ? await askPrimary() : await prometheus.text();
    res.set('Content-Type', prometheus.registry.contentType).set('Cache-Control', 'no-store').send(text);
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** A worker: prom-client answers the primary's collection requests from this server's registry. */
function answerPrimaryScrapes(prometheus: PrometheusMetrics): void {
  AggregatorRegistry.setRegistries([prometheus.registry]);
  new AggregatorRegistry();
}

let nextRequest = 0;
function askPrimary(): Promise<string> {
  const id = ++nextRequest;
  return new Promise((resolve, reject) => {
    const onMessage = (message: { type?: string; id?: number; text?: string; error?: string }) => {
      if (message?.type !== ANSWER || message.id !== id) return;
      done();
      if (message.error !== undefined) reject(new Error(`metrics of the workers: ${message.error}`));
      else resolve(message.text ?? '');
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error('metrics of the workers: the primary process did not answer'));
    }, CLUSTER_WAIT_MS);
    const done = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    process.on('message', onMessage);
    process.send!({ type: REQUEST, id });
  });
}

/** The primary under FORGE_WORKERS: gathers and sums the workers' metrics when one of them is scraped. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker, message: { type?: string; id?: number }) => {
    if (message?.type !== REQUEST) return;
    aggregator.clusterMetrics().then(
      (text) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, text }),
      (err: Error) => worker.isConnected() && worker.send({ type: ANSWER, id: message.id, error: err.message }),
    );
  });
}
