/**
 * What an operator watches: `/metrics` (opt-in, bearer token), the health probes in both
 * shapes, readiness while draining, and the access log (request id, user, bytes, route
 * pattern; probes left out by default).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { metricValue, recordingLogger, scrapeMetrics, startTestServer, type RecordedLog, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();
const TOKEN = 'scrape-secret-1234';

describe.each(kinds)('metrics, health and access log on %s', (kind) => {
  let t: TestServer;
  const lines: RecordedLog[] = [];
  let token: string;

  beforeAll(async () => {
    t = await startTestServer({
      db: kind,
      config: { metrics: true, metricsToken: TOKEN, accessLog: true },
      logger: recordingLogger(lines),
    });
    token = await t.token(await t.createUser('alice'));
    // Before the first scrape: stored figures are read once a minute at most.
    const stored = await fetch(`${t.url}/api/packages/alice/generic/seed/1.0/seed.bin`, { method: 'PUT', body: Buffer.alloc(3000, 7), headers: { authorization: `token ${token}` } });
    expect(stored.status).toBe(201);
  });
  afterAll(() => t?.close());

  const requestLines = () => lines.filter((l) => l.msg === 'request');

  it('answers /metrics only with the bearer token', async () => {
    expect((await fetch(`${t.url}/metrics`)).status).toBe(401);
    expect((await fetch(`${t.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const res = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  });

  it('exports process, pool, storage, memo and info metrics', async () => {
    // A token check (through the token memo); the answer does not matter here.
    await fetch(`${t.url}/api/v1/user`, { headers: { authorization: `token ${token}` } });
    const { samples, names } = await scrapeMetrics(t, TOKEN);
    for (const name of [
      'process_resident_memory_bytes',
      'nodejs_eventloop_lag_seconds',
      'forge_db_pool_connections',
      'forge_db_pool_waiting',
      'forge_storage_blobs',
      'forge_storage_bytes',
      'forge_memo_lookups_total',
      'forge_info',
      'forge_draining',
    ]) {
      expect(names, name).toContain(name);
    }
    expect(metricValue(samples, 'forge_info', { database: kind, storage: 'local' })).toBe(1);
    expect(metricValue(samples, 'forge_storage_blobs')).toBe(1);
    expect(metricValue(samples, 'forge_storage_bytes')).toBe(3000);
    expect(metricValue(samples, 'forge_db_pool_max')).toBe(kind === 'pglite' ? 1 : t.databaseOptions.poolSize);
    // The token check went through the token memo.
    expect(metricValue(samples, 'forge_memo_lookups_total', { memo: 'tokens' })).toBeGreaterThan(0);
  });

  it('counts requests by route pattern, never by raw URL, with bytes in and out', async () => {
    const before = (await scrapeMetrics(t, TOKEN)).samples;
    const route = '/api/packages/:owner/generic/:name/:version/:filename';
    const body = Buffer.alloc(5000, 1);
    const put = await fetch(`${t.url}/api/packages/alice/generic/tool/1.0/a.bin`, { method: 'PUT', body, headers: { authorization: `token ${token}` } });
    expect(put.status).toBe(201);
    const get = await fetch(`${t.url}/api/packages/alice/generic/tool/1.0/a.bin`, { headers: { authorization: `token ${token}` } });
    expect(Buffer.from(await get.arrayBuffer()).length).toBe(5000);
    expect((await fetch(`${t.url}/no/such/place/${Math.random()}`)).status).toBe(404);
    const { samples, text } = await scrapeMetrics(t, TOKEN);
    const delta = (name: string, labels: Record<string, string>) => metricValue(samples, name, labels) - metricValue(before, name, labels);
    expect(delta('forge_http_requests_total', { method: 'PUT', route, status: '201' })).toBe(1);
    expect(delta('forge_http_requests_total', { method: 'GET', route, status: '200' })).toBe(1);
    expect(delta('forge_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    expect(delta('forge_http_received_bytes_total', { route })).toBeGreaterThanOrEqual(5000);
    expect(delta('forge_http_sent_bytes_total', { route })).toBeGreaterThanOrEqual(5000);
    expect(delta('forge_http_request_duration_seconds_count', { method: 'GET', route })).toBe(1);
    expect(text).not.toContain('/alice/');
    expect(text).not.toContain('no/such/place');
  });

  it('counts cleanup runs by task (dry runs not)', async () => {
    const before = (await scrapeMetrics(t, TOKEN)).samples;
    await t.forge.cleanup.run({ dryRun: true, wait: true, only: ['blob-sweep'] });
    await t.forge.cleanup.run({ dryRun: false, wait: true, only: ['blob-sweep'] });
    const { samples } = await scrapeMetrics(t, TOKEN);
    const labels = { task: 'blob-sweep', outcome: 'ok' };
    expect(metricValue(samples, 'forge_cleanup_runs_total', labels) - metricValue(before, 'forge_cleanup_runs_total', labels)).toBe(1);
  });

  it('honours and returns X-Request-Id, and logs the user, address, route and bytes', async () => {
    const res = await fetch(`${t.url}/api/packages/alice/generic/tool/1.0/a.bin`, { headers: { authorization: `token ${token}`, 'x-request-id': 'proxy-id-42' } });
    expect(res.headers.get('x-request-id')).toBe('proxy-id-42');
    await res.arrayBuffer();
    const made = await fetch(`${t.url}/healthz`, { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const line = requestLines().find((l) => l.fields.id === 'proxy-id-42');
    expect(line?.fields).toMatchObject({
      method: 'GET',
      route: '/api/packages/:owner/generic/:name/:version/:filename',
      status: 200,
      user: 'alice',
      address: '127.0.0.1',
    });
    // Headers only in; headers and the 5000-byte file out.
    expect(line!.fields.bytesIn).toBeGreaterThan(50);
    expect(line!.fields.bytesIn).toBeLessThan(1000);
    expect(line!.fields.bytesOut).toBeGreaterThan(5000);
  });

  it('does not access-log health probes and scrapes', async () => {
    const count = requestLines().length;
    await fetch(`${t.url}/healthz`);
    await fetch(`${t.url}/api/healthz`);
    await scrapeMetrics(t, TOKEN);
    await fetch(`${t.url}/api/v1/user`, { headers: { authorization: `token ${token}` } });
    // Only the last one; the close event fires just after the body.
    await new Promise((r) => setTimeout(r, 50));
    expect(requestLines().slice(count).map((l) => l.fields.url)).toEqual(['/api/v1/user']);
  });

  it('answers /api/healthz in Gitea\'s shape and turns readiness off while draining', async () => {
    const res = await fetch(`${t.url}/api/healthz`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/health\+json/);
    const body = (await res.json()) as { status: string; checks: Record<string, Array<{ status: string; time: string }>> };
    expect(body.status).toBe('pass');
    expect(body.checks['database:ping']![0]!.status).toBe('pass');
    expect(Date.parse(body.checks['database:ping']![0]!.time)).not.toBeNaN();
    expect(await (await fetch(`${t.url}/healthz`)).json()).toEqual({ status: 'ok' });

    t.forge.state.draining = true;
    try {
      const draining = await fetch(`${t.url}/api/healthz`);
      expect(draining.status).toBe(503);
      expect(((await draining.json()) as { status: string }).status).toBe('fail');
      const plain = await fetch(`${t.url}/healthz`);
      expect(plain.status).toBe(503);
      expect(await plain.json()).toEqual({ status: 'draining' });
      expect(metricValue((await scrapeMetrics(t, TOKEN)).samples, 'forge_draining')).toBe(1);
    } finally {
      t.forge.state.draining = false;
    }
  });
});

describe('metrics are opt-in', () => {
  it('has no /metrics unless FORGE_METRICS is on', async () => {
    const t = await startTestServer({ db: 'pglite' });
    try {
      expect((await fetch(`${t.url}/metrics`)).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
