import { describe, expect, it } from 'vitest';
import { MODULE_API_VERSION, type PackageTypeModule } from '@forge/core';
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
