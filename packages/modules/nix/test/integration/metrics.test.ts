/**
 * The Nix cache's figures at /metrics, driven over HTTP: narinfo hits and misses (and
 * whether the memo answered), uploads accepted and refused by reason, verification time
 * and bytes, signatures made, and the route pattern of the fast lane.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, metricValue, scrapeMetrics, startTestServer, type MetricSample, type TestServer } from '@forge/server/testing';
import { CacheClient, makePath, randomHashPart } from './support.js';

const kinds = await testDatabaseKinds();

describe.each(kinds)('nix metrics on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  let before: MetricSample[];

  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { metrics: true } });
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(await t.createUser('alice'))));
    before = (await scrapeMetrics(t)).samples;
  });
  afterAll(() => t?.close());

  it('counts uploads, refusals by reason, verification, signatures and lookups', async () => {
    const p = makePath({ compression: 'xz' });
    await alice.push(p);
    // The same bytes under another file hash: the verifier refuses the FileHash claim.
    const refused = await alice.put(`nar/${makePath({ compression: 'xz' }).fileName}`, p.file, 'application/x-nix-nar');
    expect(await refused.text()).toMatch(/FileHash mismatch/);
    // A narinfo whose NAR was never uploaded.
    const orphan = makePath();
    expect((await alice.putNarInfo(orphan)).status).toBe(400);

    await alice.narinfo(p.hashPart); // memo filled by the publish (write-through)
    const absent = randomHashPart();
    expect((await alice.get(`${absent}.narinfo`)).status).toBe(404); // a query
    expect((await alice.get(`${absent}.narinfo`)).status).toBe(404); // the memo

    const { samples } = await scrapeMetrics(t);
    const delta = (name: string, labels: Record<string, string> = {}) => metricValue(samples, name, labels) - metricValue(before, name, labels);
    expect(delta('forge_nix_uploads_total', { kind: 'nar', outcome: 'accepted' })).toBe(1);
    expect(delta('forge_nix_uploads_total', { kind: 'narinfo', outcome: 'accepted' })).toBe(1);
    expect(delta('forge_nix_uploads_total', { kind: 'nar', outcome: 'refused', reason: 'mismatch:FileHash' })).toBe(1);
    expect(delta('forge_nix_uploads_total', { kind: 'narinfo', outcome: 'refused', reason: 'bad_request' })).toBe(1);
    expect(delta('forge_nix_nar_verification_seconds_count', { outcome: 'accepted' })).toBe(1);
    expect(delta('forge_nix_nar_verification_seconds_count', { outcome: 'refused' })).toBe(1);
    expect(delta('forge_nix_nar_verified_bytes_total', { outcome: 'accepted' })).toBe(p.file.length);
    expect(delta('forge_nix_signatures_total', { occasion: 'publish' })).toBe(1);
    expect(delta('forge_nix_narinfo_lookups_total', { result: 'hit', memo: 'hit' })).toBe(1);
    expect(delta('forge_nix_narinfo_lookups_total', { result: 'miss', memo: 'miss' })).toBe(1);
    expect(delta('forge_nix_narinfo_lookups_total', { result: 'miss', memo: 'hit' })).toBe(1);
    expect(delta('forge_memo_lookups_total', { memo: 'nix_narinfos', result: 'hit' })).toBeGreaterThanOrEqual(2);
    // The fast lane names its route like express would.
    const narinfoRoute = '/api/packages/:owner/nix/:hash.narinfo';
    expect(delta('forge_http_requests_total', { method: 'GET', route: narinfoRoute, status: '404' })).toBe(2);
    expect(delta('forge_http_requests_total', { method: 'PUT', route: '/api/packages/:owner/nix/nar/:file', status: '201' })).toBe(1);
    expect(samples.find((s) => s.name === 'forge_info')?.labels.zstd).toMatch(/^(libzstd|fzstd)$/);
  });
});
