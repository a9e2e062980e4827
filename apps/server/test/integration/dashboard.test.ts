/**
 * deploy/grafana-dashboard.json loads: it is valid JSON in Grafana's dashboard shape, and
 * every query names only metrics a server with FORGE_METRICS=1 exports (checked against a
 * real scrape, so a renamed metric breaks this test, not an operator's dashboard).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scrapeMetrics, startTestServer, type TestServer } from '@forge/server/testing';

const DASHBOARD = path.resolve(import.meta.dirname, '../../../../deploy/grafana-dashboard.json');

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, label names or values. */
function metricNames(expr: string): string[] {
  const withoutStrings = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""').replace(/\[[^\]]*\]/g, '');
  const withoutLabels = withoutStrings.replace(/\{[^}]*\}/g, '').replace(/\b(?:by|without)\s*\([^)]*\)/g, '');
  return [...withoutLabels.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)]
    .map((m) => m[0])
    .filter((name) => !/^(sum|rate|increase|max|min|avg|histogram_quantile|count|irate|topk|label_values)$/.test(name) && !/^\d/.test(name));
}

describe('the Grafana dashboard', () => {
  let t: TestServer;
  let exported: Set<string>;

  beforeAll(async () => {
    t = await startTestServer({ db: 'pglite', config: { metrics: true } });
    exported = (await scrapeMetrics(t)).names;
  });
  afterAll(() => t?.close());

  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { title: string; uid: string; panels: Panel[]; templating: { list: Array<{ query: unknown }> } };
  const queries = dashboard.panels.flatMap((p) => (p.targets ?? []).map((target) => ({ panel: p.title, expr: target.expr })));

  it('is a dashboard with panels and queries', () => {
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.uid).toMatch(/^[a-z0-9-]+$/);
    expect(queries.length).toBeGreaterThanOrEqual(20);
    for (const { panel, expr } of queries) expect(expr, panel).toMatch(/\S/);
  });

  it('queries only metrics the server exports', () => {
    const named = new Set<string>();
    for (const { panel, expr } of queries) {
      const names = metricNames(expr);
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const name of names) {
        // A histogram's series carry suffixes; `# TYPE` names the histogram.
        const base = exported.has(name) ? name : name.replace(/_(bucket|sum|count)$/, '');
        expect(exported, `${panel}: ${name}`).toContain(base);
        named.add(base);
      }
    }
    // The variable of the job selector too.
    expect(JSON.stringify(dashboard.templating.list)).toContain('label_values(forge_info, job)');
    // Every group of the issue has a panel: HTTP, Nix, memos, database, storage, cleanup, process.
    for (const name of ['forge_http_requests_total', 'forge_nix_narinfo_lookups_total', 'forge_nix_uploads_total', 'forge_memo_lookups_total', 'forge_db_pool_connections', 'forge_storage_bytes', 'forge_cleanup_freed_bytes_total', 'process_resident_memory_bytes']) {
      expect(named, name).toContain(name);
    }
  });

  it('finds the metric names in a query (the checker itself)', () => {
    expect(metricNames('sum by (route) (rate(forge_http_requests_total{job=~"$job",status="5xx"}[5m])) / max(forge_storage_bytes)')).toEqual([
      'forge_http_requests_total',
      'forge_storage_bytes',
    ]);
  });
});
