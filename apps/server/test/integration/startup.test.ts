import { describe, expect, it } from 'vitest';
import { MODULE_API_VERSION, NotFoundError, type PackageTypeModule } from '@forge/core';
import { genericModule } from '@forge/module-generic';
import { startTestServer } from '@forge/server/testing';

const fake = (over: Partial<PackageTypeModule>): PackageTypeModule => ({
  id: 'fake',
  apiVersion: MODULE_API_VERSION,
  displayName: 'Fake',
  register() {},
  ...over,
});

describe('start-up with a bad module list fails loudly', () => {
  it('refuses two modules with one id', async () => {
    await expect(startTestServer({ db: 'pglite', modules: [genericModule(), genericModule()] })).rejects.toThrow(/two modules have the id "generic"/);
  });
  it('refuses a module built for another API version', async () => {
    await expect(startTestServer({ db: 'pglite', modules: [fake({ apiVersion: MODULE_API_VERSION + 1 })] })).rejects.toThrow(/module API/);
  });
  it('refuses an id that cannot be a URL segment', async () => {
    await expect(startTestServer({ db: 'pglite', modules: [fake({ id: 'Bad/Id' })] })).rejects.toThrow(/must match/);
  });
  it('names the module whose registration failed', async () => {
    const broken = fake({
      register() {
        throw new Error('no config');
      },
    });
    await expect(startTestServer({ db: 'pglite', modules: [broken] })).rejects.toThrow(/module "fake" failed to register: no config/);
  });
  it('mounts a good module under /api/packages/:owner/<id>', async () => {
    const t = await startTestServer({
      db: 'pglite',
      modules: [
        fake({
          register(ctx) {
            ctx.router.get('/ping', (req, res) => {
              res.send(`pong ${req.params.owner}`);
            });
          },
        }),
      ],
    });
    try {
      expect(await (await fetch(`${t.url}/api/packages/someone/fake/ping`)).text()).toBe('pong someone');
      expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('fast routes (hot reads matched before express)', () => {
  it('answer matching GET/HEAD with the actor resolved, map errors, and leave everything else to express', async () => {
    const seen: string[] = [];
    const t = await startTestServer({
      db: 'pglite',
      modules: [
        fake({
          register(ctx) {
            ctx.fastRoute({
              pattern: /^([a-z]+)\.hot$/,
              async handle(req, res, match, actor) {
                seen.push(`${req.method} ${req.params.owner} ${match[1]} ${actor.user?.name ?? 'anonymous'}`);
                if (match[1] === 'missing') throw new NotFoundError('no such hot thing');
                const owner = await ctx.access.require(req as never, 'read');
                res.statusCode = 200;
                res.setHeader('Content-Type', 'text/plain');
                res.end(req.method === 'HEAD' ? undefined : `hot ${owner.name}`);
              },
            });
            ctx.router.get('/:name.hot', (_req, res) => {
              res.send('slow path');
            });
            ctx.router.get('/other', (_req, res) => {
              res.send('express');
            });
          },
        }),
      ],
    });
    try {
      const alice = await t.createUser('alice');
      const token = await t.token(alice, ['read:package']);
      const hot = await fetch(`${t.url}/api/packages/alice/fake/abc.hot`, { headers: { authorization: `token ${token}` } });
      expect([hot.status, await hot.text()]).toEqual([200, 'hot alice']);
      expect((await fetch(`${t.url}/api/packages/alice/fake/abc.hot`, { method: 'HEAD' })).status).toBe(200);
      const missing = await fetch(`${t.url}/api/packages/alice/fake/missing.hot`);
      expect([missing.status, await missing.text()]).toEqual([404, 'no such hot thing\n']);
      const wrong = await fetch(`${t.url}/api/packages/alice/fake/abc.hot`, { headers: { authorization: 'token 0000000000000000000000000000000000000000' } });
      expect(wrong.status).toBe(401);
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic/);
      // Not matching the pattern, or not a read: express.
      expect(await (await fetch(`${t.url}/api/packages/alice/fake/ABC.hot`)).text()).toBe('slow path');
      expect(await (await fetch(`${t.url}/api/packages/alice/fake/other`)).text()).toBe('express');
      expect((await fetch(`${t.url}/api/packages/alice/fake/abc.hot`, { method: 'PUT', body: 'x' })).status).toBe(404);
      expect(seen).toEqual(['GET alice abc alice', 'HEAD alice abc anonymous', 'GET alice missing anonymous']);
    } finally {
      await t.close();
    }
  });
});
