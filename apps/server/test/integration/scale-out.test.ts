import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { CacheClient, makePath } from '../../../../packages/modules/nix/test/integration/support.js';

const kinds = (await testDatabaseKinds()).filter((k) => k === 'postgres');

/**
 * Two server processes on one PostgreSQL and one blob store, as docker-compose.yml runs
 * them: what one changes, the other must not keep serving from its memos.
 */
describe.each(kinds)('two server processes on one %s database', () => {
  let a: TestServer;
  let b: TestServer;
  let token: string;

  beforeAll(async () => {
    a = await startTestServer({ db: 'postgres' });
    b = await startTestServer({ db: 'postgres', sharing: a });
    token = await a.token(await a.createUser('alice'));
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const soon = async (check: () => Promise<void>) => {
    for (let i = 0; ; i++) {
      try {
        return await check();
      } catch (err) {
        if (i >= 40) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  };

  it('a path pushed through one is served by the other, which had just answered 404', async () => {
    const path = makePath({ compression: 'none' });
    const onA = new CacheClient(a, 'alice', basic('alice', token));
    const onB = new CacheClient(b, 'alice', basic('alice', token));
    await onA.admin('settings', { method: 'PUT', json: {} });
    expect((await onB.get(`${path.hashPart}.narinfo`)).status).toBe(404);
    expect((await onB.head(`nar/${path.fileName}`)).status).toBe(404);
    await onA.push(path);
    await soon(async () => expect((await onB.get(`${path.hashPart}.narinfo`)).status).toBe(200));
    expect((await onB.head(`nar/${path.fileName}`)).status).toBe(200);
  });

  it('a deletion through one is honoured by the other at once, though it served the narinfo from memory', async () => {
    const path = makePath({ compression: 'none' });
    const onA = new CacheClient(a, 'alice', basic('alice', token));
    const onB = new CacheClient(b, 'alice', basic('alice', token));
    await onA.push(path);
    await soon(async () => expect((await onB.get(`${path.hashPart}.narinfo`)).status).toBe(200));
    expect((await onA.delete(`${path.hashPart}.narinfo`)).status).toBe(200);
    await soon(async () => expect((await onB.get(`${path.hashPart}.narinfo`)).status).toBe(404));
    expect((await onB.head(`nar/${path.fileName}`)).status).toBe(404);
  });

  it('a key rotation through one is signed for by the other', async () => {
    const path = makePath({ compression: 'none' });
    const onA = new CacheClient(a, 'alice', basic('alice', token));
    const onB = new CacheClient(b, 'alice', basic('alice', token));
    await onA.push(path);
    await soon(async () => expect(await onB.narinfo(path.hashPart)).toMatch(/alice-1:/));
    const rotated = await onA.admin('keys/rotate', { method: 'POST' });
    expect(rotated.status).toBe(201);
    await soon(async () => expect(await onB.narinfo(path.hashPart)).toMatch(/alice-2:/));
  });

  it('a token revoked through one stops working on the other', async () => {
    const user = (await a.forge.owners.findUser('alice'))!;
    const short = await a.token(user, ['read:package'], { name: 'short' });
    const read = () => fetch(`${b.url}/api/packages/alice/nix/nix-cache-info`, { headers: { authorization: basic('', short) } });
    expect((await read()).status).toBe(200);
    await a.forge.tokens.revoke(user, 'short');
    await soon(async () => expect((await read()).status).toBe(401));
  });

  it('a cache made private through one is private on the other', async () => {
    const onA = new CacheClient(a, 'alice', basic('alice', token));
    expect((await fetch(`${b.url}/api/packages/alice/nix/nix-cache-info`)).status).toBe(200);
    expect((await onA.admin('settings', { method: 'PUT', json: { visibility: 'private' } })).status).toBe(200);
    await soon(async () => expect((await fetch(`${b.url}/api/packages/alice/nix/nix-cache-info`)).status).toBe(401));
  });
});
