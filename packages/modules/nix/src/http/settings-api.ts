import express, { type NextFunction, type Request, type Response } from 'express';
import { BadRequestError, formatDuration, NotFoundError, parseDuration, type ModuleContext, type Owner } from '@forge/core';
import type { CacheVisibility, NixCache } from '../cache/index.js';
import { formatPublicKey } from '../format/index.js';
import { readSmallBody } from './body.js';
import { jsonFields } from './json-fields.js';

/**
 * Cache administration under `/api/packages/{owner}/nix/-/…` (`-` never starts a Nix
 * file name): settings, the public key to trust, key rotation and import, and the
 * uploader keys the owner trusts. Changes take the admin role; whoever may read the
 * cache may read its settings and public keys (nothing there is secret).
 */
export function settingsApiRoutes(ctx: ModuleContext, nix: NixCache): void {
  const router = express.Router({ mergeParams: true });
  ctx.router.use('/-', router);
  const { access } = ctx;
  // JSON bodies are read only once the caller may administer the cache: the guard answers `Expect:
  // 100-continue` (a parser in front of it would wait for a body the client holds back).
  const json = [
    async (req: Request, _res: Response, next: NextFunction) => {
      await access.require(req, 'admin');
      next();
    },
    express.json({ limit: '64kb' }),
  ];
  /**
   * For settings and keys: the admin role (the owner, organisation admins, site admins;
   * docs/auth.md), and the cache is enabled at once.
   */
  const adminAndEnable = async (req: Request): Promise<Owner> => {
    const owner = await access.require(req, 'admin');
    await nix.admin.enable(owner);
    return owner;
  };

  async function describe(owner: Owner) {
    const { settings, visibility, keys, trustedKeys } = await nix.admin.overview(owner);
    return {
      owner: owner.name,
      enabled: settings !== null,
      substituter: nix.substituterUrl(owner),
      priority: settings?.priority ?? null,
      visibility: settings?.visibility ?? 'inherit',
      effective_visibility: visibility,
      want_mass_query: settings?.wantMassQuery ?? null,
      // Garbage collection (docs/garbage-collection.md): null = keep forever / no limit.
      retention: settings?.retentionMs ? formatDuration(settings.retentionMs) : null,
      max_size: settings?.maxSize ?? null,
      public_keys: keys.map((k) => ({
        id: k.id,
        name: k.name,
        public_key: k.publicKeyText,
        active: k.active,
        created_at: k.createdAt.toISOString(),
        retired_at: k.retiredAt?.toISOString() ?? null,
      })),
      trusted_keys: trustedKeys.map((k) => formatPublicKey(k)),
      upstreams: (await nix.upstreams.list(owner.id)).map((u) => ({ id: u.id, url: u.url, public_keys: u.publicKeys, mode: u.mode })),
    };
  }

  router.get('/settings', async (req: Request, res: Response) => {
    res.json(await describe(await access.require(req, 'read')));
  });

  // Enables the cache (and creates its signing key) and changes its settings.
  router.put('/settings', ...json, async (req: Request, res: Response) => {
    const owner = await adminAndEnable(req);
    const body = jsonFields(req, res);
    const wantMassQuery = body('want_mass_query', 'wantMassQuery');
    const upstreams = body('upstreams');
    // The upstream list is checked before anything changes: a bad entry changes nothing.
    if (upstreams !== undefined) nix.upstreams.validate(upstreams);
    await nix.admin.update(owner, {
      priority: body('priority') === undefined ? undefined : Number(body('priority')),
      visibility: body('visibility') as CacheVisibility | undefined,
      wantMassQuery: wantMassQuery === undefined ? undefined : Boolean(wantMassQuery),
      retentionMs: retentionOf(body('retention')),
      maxSize: maxSizeOf(body('max_size', 'maxSize')),
    });
    if (upstreams !== undefined) await nix.upstreams.configure(owner, upstreams);
    res.json(await describe(owner));
  });

  // The line to add to trusted-public-keys.
  router.get('/public-key', async (req: Request, res: Response) => {
    const { owner } = await nix.access.opened(await access.require(req, 'read'));
    res.type('text/plain').send((await nix.admin.activeKey(owner)).publicKeyText + '\n');
  });

  router.post('/keys/rotate', async (req: Request, res: Response) => {
    const key = await nix.admin.rotateKey(await adminAndEnable(req));
    res.status(201).json({ id: key.id, name: key.name, public_key: key.publicKeyText });
  });

  // Bring your own key: the body is a Nix secret key file (text/plain) or {"secret_key": "…"}.
  router.post('/keys/import', ...json, async (req: Request, res: Response) => {
    const owner = await adminAndEnable(req);
    const text = req.is('application/json') ? String(jsonFields(req, res)('secret_key', 'secretKey') ?? '') : (await readSmallBody(req, 4096, ctx.host.bodyIdleTimeoutMs)).toString('utf8');
    if (!text.trim()) throw new BadRequestError('send the secret key file (name:base64) as the body');
    const key = await nix.admin.importKey(owner, text);
    res.status(201).json({ id: key.id, name: key.name, public_key: key.publicKeyText });
  });

  router.delete('/keys/:id', async (req: Request, res: Response) => {
    const owner = await adminAndEnable(req);
    const id = Number(req.params.id);
    if (!Number.isInteger(id)) throw new NotFoundError('key not found');
    await nix.admin.dropKey(owner, id);
    res.status(204).end();
  });

  router.post('/trusted-keys', ...json, async (req: Request, res: Response) => {
    const owner = await adminAndEnable(req);
    const text = req.is('application/json') ? String(jsonFields(req, res)('public_key', 'publicKey') ?? '') : (await readSmallBody(req, 4096, ctx.host.bodyIdleTimeoutMs)).toString('utf8');
    await nix.admin.trustKey(owner, text);
    res.status(201).json(await describe(owner));
  });

  router.delete('/trusted-keys/:name', async (req: Request, res: Response) => {
    await nix.admin.untrustKey(await adminAndEnable(req), String(req.params.name));
    res.status(204).end();
  });
}

/** `retention`: a duration string (`"30d"`, `"12h"`, `"90s"`); `"0"` or null = keep forever; absent = unchanged. */
export function retentionOf(value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== 'string') throw new BadRequestError('retention must be a duration string such as "30d", "12h" or "90s" ("0" or null: keep forever)');
  try {
    return parseDuration(value, 'retention') || null;
  } catch (err) {
    throw new BadRequestError((err as Error).message);
  }
}

/** `maxSize`: bytes, a non-negative whole number; null = no limit; absent = unchanged. */
export function maxSizeOf(value: unknown): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new BadRequestError('maxSize must be a number of bytes (null: no limit)');
  return value;
}

