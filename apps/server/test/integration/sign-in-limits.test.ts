import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { createLogger } from '@forge/server';
import { basic, recordingLogger, startTestServer, type TestServer } from '@forge/server/testing';
import { FormClient, csrfToken } from '../../../../packages/web/test/integration/form-client.js';

const kinds = await testDatabaseKinds();

const userApi = (t: TestServer, authorization: string, headers: Record<string, string> = {}) =>
  fetch(`${t.url}/api/v1/user`, { headers: { authorization, ...headers } });

/**
 * Password checks are limited per account and per client address, in the database so
 * that every process counts the same failures (issue 16, items 4 and 11): the attempt
 * past the limit is a 429 with Retry-After, and not even the right password is checked.
 */
describe.each(kinds)('sign-in limits on %s', (kind) => {
  describe('per account', () => {
    let t: TestServer;
    const logger = recordingLogger();
    beforeAll(async () => {
      t = await startTestServer({ db: kind, logger });
      await t.createUser('alice');
      await t.createUser('bob');
    });
    afterAll(() => t?.close());

    it('answers 429 with Retry-After after 10 wrong passwords over Basic, then refuses the right one too', async () => {
      for (let i = 0; i < 10; i++) expect((await userApi(t, basic('alice', `wrong-${i}`))).status).toBe(401);
      const over = await userApi(t, basic('alice', 'wrong-again'));
      expect(over.status).toBe(429);
      const retryAfter = Number(over.headers.get('retry-after'));
      expect(retryAfter).toBeGreaterThan(800);
      expect(retryAfter).toBeLessThanOrEqual(900);
      expect(((await over.json()) as { message: string }).message).toMatch(/too many failed sign-ins; try again in 1[45] minutes/);
      const right = await userApi(t, basic('alice', 'password-alice'));
      expect(right.status).toBe(429);
      // Her email address is the same account.
      expect((await userApi(t, basic('ALICE@example.test', 'password-alice'))).status).toBe(429);
    });

    it('leaves other accounts from the same address and the locked account\'s tokens alone', async () => {
      expect((await userApi(t, basic('bob', 'password-bob'))).status).toBe(200);
      const token = await t.token((await t.forge.owners.findUser('alice'))!, ['read:user']);
      expect((await userApi(t, `token ${token}`)).status).toBe(200);
    });

    it('refuses the sign-in form the same way: a 429 page with Retry-After', async () => {
      const c = new FormClient(t.url);
      const page = await c.page('/user/login');
      const res = await c.post('/user/login', { user_name: 'alice', password: 'password-alice' }, { csrf: csrfToken(page.html) });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(800);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('Too many failed sign-ins');
      expect(c.cookies.has('forge_session') && (await c.page('/')).html.includes('Signed in as')).toBe(false);
    });

    it('locks the sign-in form after 10 wrong passwords: the right one is refused too (was: 60 wrong, then in)', async () => {
      await t.createUser('ivan');
      const c = new FormClient(t.url);
      for (let i = 0; i < 10; i++) expect((await c.signIn('ivan', `wrong-${i}`)).status).toBe(400);
      const right = await c.signIn('ivan');
      expect(right.status).toBe(429);
      expect(await right.text()).toContain('Too many failed sign-ins');
      expect((await c.page('/')).html).not.toContain('Signed in as');
    });

    it('logs failures and refusals at warn level with the client address, and nothing at error level', () => {
      const failed = logger.lines.filter((l) => l.msg === 'authentication failed');
      expect(failed.length).toBeGreaterThanOrEqual(10);
      expect(failed[0]).toMatchObject({ level: 'warn', fields: { address: '127.0.0.1', via: 'basic', login: 'alice' } });
      const throttled = logger.lines.filter((l) => l.msg === 'sign-in throttled');
      expect(throttled.map((l) => l.fields.via)).toEqual(expect.arrayContaining(['basic', 'form']));
      expect(throttled.every((l) => l.level === 'warn' && l.fields.address === '127.0.0.1')).toBe(true);
      expect(logger.lines.filter((l) => l.level === 'error')).toEqual([]);
    });
  });

  describe('per client address', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ db: kind, config: { signIn: { perAccount: 100, perAddress: 5, windowSeconds: 900 } } });
      await t.createUser('carol');
    });
    afterAll(() => t?.close());

    it('answers 429 to every account once one address made 5 wrong guesses, whether the accounts exist or not', async () => {
      for (const login of ['carol', 'nobody', 'somebody', 'x@example.test', 'carol']) {
        expect((await userApi(t, basic(login, 'a-wrong-guess'))).status).toBe(401);
      }
      expect((await userApi(t, basic('anyone', 'a-wrong-guess'))).status).toBe(429);
      expect((await userApi(t, basic('carol', 'password-carol'))).status).toBe(429);
    });

    it('counts a spoofed X-Forwarded-For against the real peer when no proxy is trusted', async () => {
      const res = await userApi(t, basic('carol', 'password-carol'), { 'x-forwarded-for': '203.0.113.9' });
      expect(res.status).toBe(429);
    });
  });

  describe('behind a trusted proxy (FORGE_TRUST_PROXY=loopback)', () => {
    let t: TestServer;
    const logger = recordingLogger();
    beforeAll(async () => {
      t = await startTestServer({ db: kind, logger, config: { trustProxy: 'loopback', signIn: { perAccount: 100, perAddress: 3, windowSeconds: 900 } } });
      await t.createUser('dave');
    });
    afterAll(() => t?.close());

    it('counts and logs failures under the forwarded client address', async () => {
      const from = (address: string) => ({ 'x-forwarded-for': address });
      for (let i = 0; i < 3; i++) expect((await userApi(t, basic('dave', 'wrong-guess'), from('198.51.100.7'))).status).toBe(401);
      expect((await userApi(t, basic('dave', 'password-dave'), from('198.51.100.7'))).status).toBe(429);
      // Another client behind the same proxy is not blocked.
      expect((await userApi(t, basic('dave', 'password-dave'), from('198.51.100.8'))).status).toBe(200);
      // An IPv6 client's whole /64 shares one count.
      for (let i = 0; i < 3; i++) expect((await userApi(t, basic('dave', 'wrong-guess'), from(`2001:db8:1:2::${i + 1}`))).status).toBe(401);
      expect((await userApi(t, basic('dave', 'password-dave'), from('2001:db8:1:2:ffff::9'))).status).toBe(429);
      expect((await userApi(t, basic('dave', 'password-dave'), from('2001:db8:1:3::1'))).status).toBe(200);
      const addresses = logger.lines.filter((l) => l.msg === 'authentication failed').map((l) => l.fields.address);
      expect(addresses).toContain('198.51.100.7');
      expect(addresses).toContain('2001:db8:1:2::1');
    });

    it('logs failed token checks at warn level with the client address', async () => {
      const res = await fetch(`${t.url}/api/packages/dave/generic/p/1/f`, { headers: { authorization: `token ${'0'.repeat(40)}`, 'x-forwarded-for': '192.0.2.44' } });
      expect(res.status).toBe(401);
      const line = logger.lines.find((l) => l.msg === 'authentication failed' && l.fields.via === 'token');
      expect(line).toMatchObject({ level: 'warn', fields: { address: '192.0.2.44', method: 'GET' } });
    });
  });

  describe('a window that has ended', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({ db: kind, config: { signIn: { perAccount: 2, perAddress: 100, windowSeconds: 3 } } });
      await t.createUser('erin');
    });
    afterAll(() => t?.close());

    it('lets the account sign in again once its window is over', async () => {
      for (let i = 0; i < 2; i++) expect((await userApi(t, basic('erin', 'wrong-guess'))).status).toBe(401);
      const over = await userApi(t, basic('erin', 'password-erin'));
      expect(over.status).toBe(429);
      await new Promise((r) => setTimeout(r, (Number(over.headers.get('retry-after')) + 0.5) * 1000));
      expect((await userApi(t, basic('erin', 'password-erin'))).status).toBe(200);
    });
  });

  describe('password hashing', () => {
    let t: TestServer;
    beforeAll(async () => {
      t = await startTestServer({
        db: kind,
        config: { signIn: { perAccount: 1000, perAddress: 1000, windowSeconds: 900 }, passwordHashing: { concurrency: 1, queue: 32 } },
      });
      await t.createUser('frank');
    });
    afterAll(() => t?.close());

    it('keeps hashing to one libuv thread while 16 connections send wrong passwords and a 30 MiB file downloads', async () => {
      const owner = (await t.forge.owners.findUser('frank'))!;
      const file = Buffer.alloc(30 * 1024 * 1024, 7);
      const token = await t.token(owner, ['write:package']);
      expect((await fetch(`${t.url}/api/packages/frank/generic/big/1/blob`, { method: 'PUT', body: file, headers: { authorization: `token ${token}` } })).status).toBe(201);
      let flooding = true;
      const answered: number[] = [];
      const flood = Array.from({ length: 16 }, async (_, c) => {
        for (let i = 0; flooding; i++) answered.push((await userApi(t, basic('frank', `wrong-${c}-${i}`))).status);
      });
      await new Promise((r) => setTimeout(r, 200));
      const download = await fetch(`${t.url}/api/packages/frank/generic/big/1/blob`);
      const body = Buffer.from(await download.arrayBuffer());
      flooding = false;
      await Promise.all(flood);
      expect(download.status).toBe(200);
      expect(body.equals(file)).toBe(true);
      expect(answered.filter((s) => s === 401).length).toBeGreaterThan(0);
      expect(answered.every((s) => s === 401)).toBe(true);
      // What keeps the download's file reads from queuing behind scrypt on libuv's four
      // threads (bench/tools/password-flood.ts measures the effect; docs/security.md).
      expect(t.forge.passwords.peakConcurrency).toBe(1);
    });

    it('hashes one password at a time and refuses checks beyond its queue with 503 and Retry-After', async () => {
      const small = await startTestServer({
        db: kind,
        config: { signIn: { perAccount: 1000, perAddress: 1000, windowSeconds: 900 }, passwordHashing: { concurrency: 1, queue: 4 } },
      });
      try {
        await small.createUser('frank');
        await expectQueueBound(small);
      } finally {
        await small.close();
      }
    });
  });
});

/** 16 wrong passwords at once against a queue of 4: one hash at a time, the overflow refused. */
async function expectQueueBound(t: TestServer): Promise<void> {
  const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => userApi(t, basic('frank', `wrong-${i}`))));
  const statuses = answers.map((r) => r.status);
  expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(5);
  const busy = answers.filter((r) => r.status === 503);
  expect(busy.length).toBeGreaterThan(0);
  expect(busy[0].headers.get('retry-after')).toBe('1');
  expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
  expect(t.forge.passwords.peakConcurrency).toBe(1);
  expect((await userApi(t, basic('frank', 'password-frank'))).status).toBe(200);
}

describe.each(kinds.filter((k) => k === 'postgres'))('sign-in limits across two server processes on one %s database', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startTestServer({ db: 'postgres' });
    b = await startTestServer({ db: 'postgres', sharing: a });
    await a.createUser('grace');
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  it('counts failures in both processes against one limit', async () => {
    for (let i = 0; i < 5; i++) expect((await userApi(a, basic('grace', `wrong-a-${i}`))).status).toBe(401);
    for (let i = 0; i < 5; i++) expect((await userApi(b, basic('grace', `wrong-b-${i}`))).status).toBe(401);
    expect((await userApi(b, basic('grace', 'password-grace'))).status).toBe(429);
    expect((await userApi(a, basic('grace', 'password-grace'))).status).toBe(429);
  });
});

describe('the log line fail2ban reads (docs/security.md)', () => {
  it('matches the documented filter in the server\'s real JSON log output', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => (text += c.toString('utf8')));
    const t = await startTestServer({ db: 'pglite', logger: createLogger('info', out) });
    try {
      await t.createUser('heidi');
      expect((await userApi(t, basic('heidi', 'wrong-guess'))).status).toBe(401);
      expect((await fetch(`${t.url}/api/packages/heidi/generic/p/1/f`, { headers: { authorization: `token ${'1'.repeat(40)}` } })).status).toBe(401);
      const c = new FormClient(t.url);
      expect((await c.signIn('heidi', 'wrong-guess')).status).toBe(400);
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await t.close();
    }
    // docs/security.md's failregex, with fail2ban's <HOST> as a named group.
    const failregex = /^\{.*"address":"(?<host>[^"]+)".*"msg":"(?:authentication failed|sign-in throttled)"\}$/;
    const hits = text.split('\n').map((line) => failregex.exec(line)?.groups?.host).filter(Boolean);
    expect(hits).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });
});
