import fs from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();

/** Quotas over HTTP: refusal, warning header, concurrent uploads, the admin API (docs/quotas.md). */
describe.each(kinds)('owner quotas over HTTP on %s', (kind) => {
  let t: TestServer;
  let alice: string;
  let bob: string;
  let root: string;

  beforeAll(async () => {
    // The server default: 10 000 bytes for every owner without a quota of its own.
    t = await startTestServer({ db: kind, config: { ownerQuotaBytes: 10_000 } });
    alice = basic('alice', await t.token(await t.createUser('alice')));
    bob = basic('bob', await t.token(await t.createUser('bob')));
    root = basic('root', await t.token(await t.createUser('root', { admin: true }), ['all']));
  });
  afterAll(() => t?.close());

  const put = (owner: string, rest: string, body: string | Buffer, authorization = alice) =>
    fetch(`${t.url}/api/packages/${owner}/generic/${rest}`, { method: 'PUT', body, headers: { authorization } });
  const api = (method: string, rest: string, body?: unknown, authorization = root) =>
    fetch(`${t.url}/api/v1/admin/${rest}`, { method, headers: { authorization, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const tmpFiles = async () => (await fs.readdir(path.join(t.forge.config.storage.path, 'tmp')).catch(() => [])).length;

  it('warns from 80 % in a response header, and refuses past the quota with 403 and a plain message', async () => {
    const first = await put('alice', 'a/1/f', Buffer.alloc(7_000, 1));
    expect(first.status).toBe(201);
    expect(first.headers.get('x-forge-quota-warning')).toBeNull();
    const second = await put('alice', 'a/1/g', Buffer.alloc(1_500, 2));
    expect(second.status).toBe(201);
    expect(second.headers.get('x-forge-quota-warning')).toBe('alice has used 85% of its storage quota (8.3 KiB of 9.8 KiB)');
    const third = await put('alice', 'a/1/h', Buffer.alloc(1_000, 3));
    expect(third.headers.get('x-forge-quota-warning')).toBe('alice has used 95% of its storage quota (9.3 KiB of 9.8 KiB)');
    const refused = await put('alice', 'a/1/i', Buffer.alloc(600, 4));
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^text\/plain/);
    // Cut off as it arrived, once it passed the 500 bytes left.
    expect(await refused.text()).toBe(
      'storage quota exceeded: alice would use more than 9.8 KiB of its 9.8 KiB quota (9500 bytes used, this upload adds more than 500, the quota is 10000); ' +
        'delete packages or ask an administrator to raise the quota\n',
    );
    expect((await fetch(`${t.url}/api/packages/alice/generic/a/1/i`, { headers: { authorization: alice } })).status).toBe(404);
    expect(await tmpFiles()).toBe(0);
    // Bob is not charged for Alice's bytes, even the same ones.
    const bobs = await put('bob', 'b/1/f', Buffer.alloc(7_000, 1), bob);
    expect(bobs.status).toBe(201);
  });

  it('lets an administrator set, read and reset a quota over the API (snake_case, admin scopes)', async () => {
    expect((await api('GET', 'owners/alice/quota')).status).toBe(200);
    expect(await (await api('GET', 'owners/alice/quota')).json()).toEqual({
      owner: 'alice',
      used_bytes: 9_500,
      limit_bytes: 10_000,
      source: 'default',
      percent: 95,
      level: 'critical',
    });
    const raised = await api('PUT', 'owners/alice/quota', { limit_bytes: 20_000 });
    expect(await raised.json()).toMatchObject({ limit_bytes: 20_000, source: 'owner', percent: 47, level: 'ok' });
    expect((await put('alice', 'a/1/i', Buffer.alloc(600, 4))).status).toBe(201);
    expect(await (await api('PUT', 'owners/alice/quota', { limit_bytes: null })).json()).toMatchObject({ limit_bytes: null, source: 'owner', percent: null });
    expect(await (await api('DELETE', 'owners/alice/quota')).json()).toMatchObject({ limit_bytes: 10_000, source: 'default', level: 'full' });
    expect((await api('PUT', 'owners/alice/quota', { limit_bytes: -1 })).status).toBe(400);
    expect((await api('PUT', 'owners/alice/quota', { limit: 5 })).status).toBe(400);
    expect((await api('PUT', 'owners/nobody/quota', { limit_bytes: 5 })).status).toBe(404);
    // Not for owners themselves, nor for tokens without the admin scope.
    expect((await api('PUT', 'owners/alice/quota', { limit_bytes: 1e9 }, alice)).status).toBe(403);
    const rootPackageToken = basic('root', await t.token((await t.forge.owners.findUser('root'))!, ['read:package', 'write:package']));
    expect((await api('GET', 'owners/alice/quota', undefined, rootPackageToken)).status).toBe(403);
    expect((await api('GET', 'owners/alice/quota', undefined, '')).status).toBe(401);
  });

  it('refuses an upload to a full owner before its body is read (no 100 Continue needed to refuse)', async () => {
    // Alice is at 10 100 of 10 000 bytes now (the default came back below her usage).
    const res = await put('alice', 'a/2/j', Buffer.alloc(100_000, 5));
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/^storage quota exceeded: alice uses 9\.9 KiB of its 9\.8 KiB quota/);
    expect(await tmpFiles()).toBe(0);
  });

  it('never lets parallel uploads pass the quota together', async () => {
    const carol = basic('carol', await t.token(await t.createUser('carol')));
    expect((await api('PUT', 'owners/carol/quota', { limit_bytes: 5_500 })).status).toBe(200);
    const statuses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => put('carol', `c/${i}/f`, Buffer.alloc(1_000, i + 10), carol).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 201)).toHaveLength(5);
    expect(statuses.filter((s) => s === 403)).toHaveLength(3);
    expect(await (await api('GET', 'owners/carol/quota')).json()).toMatchObject({ used_bytes: 5_000 });
  });

  it('shows administrators the physical total against what owners are charged', async () => {
    const res = await api('GET', 'storage');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { blobs: number; physical_bytes: number; charged_bytes: number; owners: Array<{ owner: string; used_bytes: number }> };
    const [row] = await t.forge.db.dataSource.query(`SELECT count(*)::int AS n, sum(size)::bigint AS bytes FROM package_blob`);
    expect(body.blobs).toBe(row.n);
    expect(body.physical_bytes).toBe(Number(row.bytes));
    // Bob's 7 000 bytes are Alice's first file: stored once, charged twice.
    expect(body.charged_bytes).toBe(body.owners.reduce((sum, o) => sum + o.used_bytes, 0));
    expect(body.charged_bytes - body.physical_bytes, JSON.stringify(body)).toBe(7_000);
    expect(body.owners.map((o) => o.owner).slice(0, 2)).toEqual(['alice', 'bob']);
  });
});
