import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();

/** Gitea's cleanup rules for generic packages over HTTP: set, preview (dry run), run, and the scheduled task. */
describe.each(kinds)('generic cleanup rules on %s', (kind) => {
  let t: TestServer;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    t = await startTestServer({ db: kind });
    alice = basic('alice', await t.token(await t.createUser('alice')));
    bob = basic('bob', await t.token(await t.createUser('bob')));
  });
  afterAll(() => t?.close());

  const base = (owner = 'alice') => `${t.url}/api/packages/${owner}/generic`;
  const call = (method: string, rest: string, body?: unknown, authorization = alice, owner = 'alice') =>
    fetch(`${base(owner)}/${rest}`, { method, headers: { authorization, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  /** Publishes `name` `version` with one file, made `daysOld` days old. */
  async function publish(name: string, version: string, daysOld: number, owner = 'alice', authorization = alice) {
    const res = await fetch(`${base(owner)}/${name}/${version}/file.bin`, { method: 'PUT', body: `${name} ${version} `.repeat(10), headers: { authorization } });
    expect(res.status).toBe(201);
    await t.forge.db.dataSource.query(
      `UPDATE package_version SET created_at = now() - make_interval(days => $1)
       WHERE lower_version = lower($2) AND package_id = (SELECT p.id FROM package p JOIN owner o ON o.id = p.owner_id WHERE o.name = $3 AND p.lower_name = lower($4) AND p.type = 'generic')`,
      [daysOld, version, owner, name],
    );
  }
  const remaining = async (owner = 'alice') =>
    (
      await t.forge.db.dataSource.query(
        `SELECT p.name || '/' || v.version AS v FROM package_version v JOIN package p ON p.id = v.package_id JOIN owner o ON o.id = p.owner_id
         WHERE o.name = $1 AND p.type = 'generic' ORDER BY 1`,
        [owner],
      )
    ).map((r: { v: string }) => r.v);

  it('stores a rule, previews exactly what it would remove, removes nothing until run, then removes that', async () => {
    for (let i = 0; i < 6; i++) await publish('app', `1.${i}`, 60 - i * 10); // 1.0: 60 days … 1.5: 10 days
    await publish('app', '2.0-dev', 40);
    await publish('lib', '0.1', 90);
    expect((await call('GET', '-/cleanup-rule')).status).toBe(404);
    const put = await call('PUT', '-/cleanup-rule', { keep_count: 2, keep_pattern: '1\\.0', remove_older_than: '25d' });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ type: 'generic', enabled: true, keep_count: 2, keep_pattern: '1\\.0', remove_older_than: '25d', remove_pattern: '', match_full_name: false });

    const preview = await call('POST', '-/cleanup-rule/preview');
    expect(preview.status).toBe(200);
    const body = (await preview.json()) as { dry_run: boolean; count: number; bytes: number; versions: Array<{ package: string; version: string; size: number }> };
    // app, newest first: 1.5 (10 days) and 1.4 (20 d) kept as the 2 most recent; 1.3 (30 d), 1.2 and 2.0-dev (40 d), 1.1 (50 d) go;
    // 1.0 (60 d) is kept by the pattern; lib 0.1 is its package's newest.
    expect(body.versions.map((v) => `${v.package}/${v.version}`).sort()).toEqual(['app/1.1', 'app/1.2', 'app/1.3', 'app/2.0-dev']);
    expect(body).toMatchObject({ dry_run: true, count: 4 });
    expect(body.bytes).toBe(body.versions.reduce((s, v) => s + v.size, 0));
    expect(await remaining()).toHaveLength(8);

    // A rule in the body is previewed without being stored.
    const other = (await (await call('POST', '-/cleanup-rule/preview', { remove_pattern: '.*-dev' })).json()) as { count: number };
    expect(other.count).toBe(1);
    expect(((await (await call('GET', '-/cleanup-rule')).json()) as { keep_count: number }).keep_count).toBe(2);

    const usedBefore = (await t.forge.registry.storageStatus((await t.forge.owners.findByName('alice'))!.id)).usedBytes;
    const run = (await (await call('POST', '-/cleanup-rule/run')).json()) as { dry_run: boolean; count: number; bytes: number };
    expect(run).toMatchObject({ dry_run: false, count: 4, bytes: body.bytes });
    expect(await remaining()).toEqual(['app/1.0', 'app/1.4', 'app/1.5', 'lib/0.1']);
    // The owner's usage drops at once (the blobs themselves go with the sweep).
    expect((await t.forge.registry.storageStatus((await t.forge.owners.findByName('alice'))!.id)).usedBytes).toBe(usedBefore - body.bytes);
    expect(((await (await call('POST', '-/cleanup-rule/preview')).json()) as { count: number }).count).toBe(0);
  });

  it('runs with the scheduled cleanup for owners whose rule is enabled, and only theirs', async () => {
    await publish('tool', '1', 100, 'bob', bob);
    await publish('tool', '2', 1, 'bob', bob);
    await publish('old', '1', 100);
    expect((await call('PUT', '-/cleanup-rule', { keep_count: 1, remove_older_than: '30d' }, bob, 'bob')).status).toBe(200);
    expect((await call('PUT', '-/cleanup-rule', { enabled: false, remove_older_than: '1d' })).status).toBe(200);
    const dry = await t.forge.cleanup.run({ dryRun: true, wait: true });
    const task = dry!.tasks.find((x) => x.name === 'generic-cleanup-rules')!;
    expect(task.result!.lines).toEqual([expect.stringMatching(/^generic tool 1 \(/)]);
    await t.forge.cleanup.run({ dryRun: false, wait: true });
    expect(await remaining('bob')).toEqual(['tool/2']);
    expect(await remaining()).toContain('old/1');
  });

  it('refuses bad rules with 400, and rules of others to anyone who does not administer them', async () => {
    for (const bad of [{ keep_count: -1 }, { remove_pattern: '(a' }, { remove_pattern: 'x'.repeat(300) }, { remove_older_than: 'soon' }, { type: 'nix' }, { nope: 1 }]) {
      expect((await call('PUT', '-/cleanup-rule', bad)).status, JSON.stringify(bad)).toBe(400);
    }
    expect((await call('PUT', '-/cleanup-rule', { keep_count: 1 }, bob)).status).toBe(403);
    expect((await call('POST', '-/cleanup-rule/run', undefined, bob)).status).toBe(403);
    expect((await call('GET', '-/cleanup-rule', undefined, '')).status).toBe(401);
  });
});
