import express, { type NextFunction, type Request, type Response } from 'express';
import { BadRequestError, NotFoundError, type Owner } from '@forge/core';
import { formatPublicKey } from '../format/index.js';
import type { NixServices } from '../services.js';
import { parseTrustedKey } from '../signing/cache-keys.js';
import { CacheSettingsStore, type CacheVisibility } from '../store/caches.js';
import { readSmallBody } from './body.js';

/** The substituter URL of an owner's cache. */
export function substituterUrl(nix: NixServices, owner: Owner): string {
  return `${nix.ctx.host.baseUrl}/api/packages/${owner.name}/nix`;
}

/**
 * Cache administration under `/api/packages/{owner}/nix/-/…` (`-` never starts a Nix
 * file name): settings, the public key to trust, key rotation and import, and the
 * uploader keys the owner trusts. Changes take the admin role; whoever may read the
 * cache may read its settings and public keys (nothing there is secret).
 */
export function settingsApiRoutes(nix: NixServices): void {
  const router = express.Router({ mergeParams: true });
  nix.ctx.router.use('/-', router);
  // JSON bodies are read only once the caller may write: the guard answers `Expect:
  // 100-continue` (a parser in front of it would wait for a body the client holds back).
  const json = [
    async (req: Request, _res: Response, next: NextFunction) => {
      await nix.cache.owner(req, 'admin');
      next();
    },
    express.json({ limit: '64kb' }),
  ];

  async function describe(owner: Owner) {
    const settings = await nix.caches.get(owner.id);
    const keys = settings ? await nix.keys.all(owner.id) : [];
    return {
      owner: owner.name,
      enabled: settings !== null,
      substituter: substituterUrl(nix, owner),
      priority: settings?.priority ?? null,
      visibility: settings?.visibility ?? 'inherit',
      effectiveVisibility: CacheSettingsStore.effectiveVisibility(owner, settings),
      wantMassQuery: settings?.wantMassQuery ?? null,
      publicKeys: keys.map((k) => ({
        id: k.id,
        name: k.name,
        publicKey: k.publicKeyText,
        active: k.active,
        createdAt: k.createdAt.toISOString(),
        retiredAt: k.retiredAt?.toISOString() ?? null,
      })),
      trustedKeys: (await nix.trustedKeys.list(owner.id)).map((k) => formatPublicKey(k)),
    };
  }

  router.get('/settings', async (req: Request, res: Response) => {
    const owner = await nix.cache.owner(req, 'read');
    res.json(await describe(owner));
  });

  // Enables the cache (and creates its signing key) and changes its settings.
  router.put('/settings', ...json, async (req: Request, res: Response) => {
    const { owner } = await nix.cache.adminAndEnable(req);
    const body = (req.body ?? {}) as { priority?: unknown; visibility?: unknown; wantMassQuery?: unknown };
    await nix.caches.update(owner.id, {
      priority: body.priority === undefined ? undefined : Number(body.priority),
      visibility: body.visibility as CacheVisibility | undefined,
      wantMassQuery: body.wantMassQuery === undefined ? undefined : Boolean(body.wantMassQuery),
    });
    await nix.keys.active(owner);
    nix.changes.owner(owner.id);
    res.json(await describe(owner));
  });

  // The line to add to trusted-public-keys.
  router.get('/public-key', async (req: Request, res: Response) => {
    const { owner } = await nix.cache.read(req);
    const key = await nix.keys.active(owner);
    res.type('text/plain').send(key.publicKeyText + '\n');
  });

  router.post('/keys/rotate', async (req: Request, res: Response) => {
    const { owner } = await nix.cache.adminAndEnable(req);
    const key = await nix.keys.rotate(owner);
    nix.changes.owner(owner.id);
    res.status(201).json({ id: key.id, name: key.name, publicKey: key.publicKeyText });
  });

  // Bring your own key: the body is a Nix secret key file (text/plain) or {"secretKey": "…"}.
  router.post('/keys/import', ...json, async (req: Request, res: Response) => {
    const { owner } = await nix.cache.adminAndEnable(req);
    const text = req.is('application/json') ? String((req.body as { secretKey?: unknown })?.secretKey ?? '') : (await readSmallBody(req, 4096)).toString('utf8');
    if (!text.trim()) throw new BadRequestError('send the secret key file (name:base64) as the body');
    const key = await nix.keys.import(owner, text);
    nix.changes.owner(owner.id);
    res.status(201).json({ id: key.id, name: key.name, publicKey: key.publicKeyText });
  });

  router.delete('/keys/:id', async (req: Request, res: Response) => {
    const { owner } = await nix.cache.adminAndEnable(req);
    const id = Number(req.params.id);
    if (!Number.isInteger(id)) throw new NotFoundError('key not found');
    await nix.keys.drop(owner, id);
    nix.changes.owner(owner.id);
    res.status(204).end();
  });

  router.post('/trusted-keys', ...json, async (req: Request, res: Response) => {
    const { owner } = await nix.cache.adminAndEnable(req);
    const text = req.is('application/json') ? String((req.body as { publicKey?: unknown })?.publicKey ?? '') : (await readSmallBody(req, 4096)).toString('utf8');
    await nix.trustedKeys.add(owner.id, parseTrustedKey(text));
    res.status(201).json(await describe(owner));
  });

  router.delete('/trusted-keys/:name', async (req: Request, res: Response) => {
    const { owner } = await nix.cache.adminAndEnable(req);
    await nix.trustedKeys.remove(owner.id, String(req.params.name));
    res.status(204).end();
  });
}
