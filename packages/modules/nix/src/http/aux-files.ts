import type { Request, Response } from 'express';
import { BadRequestError, NotFoundError, PayloadTooLargeError, type ModuleContext } from '@forge/core';
import { derivationName, documentKey, type DocumentKind, type NixCache } from '../cache/index.js';
import { isStorePathHash, NIX_STORE_DIR, renderNixCacheInfo } from '../format/index.js';
import { bodyOf, declaredLength, readSmallBody } from './body.js';
import { cacheControl } from './cache-control.js';
import { cacheForReading } from './guard.js';

const CACHE_INFO_LIMIT = 64 * 1024;
const SMALL_JSON_LIMIT = 1024 * 1024;
/** Uploaded `.ls` files (checked, not kept): the largest real store paths list in a few tens of MB. */
export const UPLOADED_LISTING_LIMIT = 64 * 1024 * 1024;
const LOG_LIMIT = 256 * 1024 * 1024;

/**
 * Everything in a cache besides NARs and narinfos: `nix-cache-info`, `.ls` listings, build
 * logs (`nix store copy-log`), debuginfo links (`?index-debug-info=1`), and CA-derivation
 * realisations (`realisations/…` up to Nix 2.34, `build-trace-v2/…` from 2.35).
 */
export function auxFileRoutes(ctx: ModuleContext, nix: NixCache): void {
  const { router, access, serveBlob } = ctx;

  router.get('/nix-cache-info', async (req: Request, res: Response) => {
    const { settings, visibility } = await cacheForReading(ctx, nix, req);
    const body = renderNixCacheInfo({ storeDir: NIX_STORE_DIR, wantMassQuery: settings.wantMassQuery, priority: settings.priority });
    res.status(200).type('text/x-nix-cache-info').setHeader('Cache-Control', cacheControl(visibility, 0));
    res.send(body);
  });

  // Nix PUTs nix-cache-info when it finds none; for a writer that enables the cache.
  router.put('/nix-cache-info', async (req: Request, res: Response) => {
    const owner = await access.require(req, 'write');
    await nix.files.acceptCacheInfo(owner, await readSmallBody(req, CACHE_INFO_LIMIT, ctx.host.bodyIdleTimeoutMs));
    res.status(204).end();
  });

  router.get('/:hash.ls', async (req: Request, res: Response) => {
    const hash = String(req.params.hash);
    if (!isStorePathHash(hash)) throw new NotFoundError('not a store path hash');
    const { owner, visibility } = await cacheForReading(ctx, nix, req);
    const listing = await nix.files.listing(owner.id, hash);
    if (!listing) throw new NotFoundError(`${hash}.ls does not exist in this cache`);
    await serveBlob(req, res, { sha256: listing.sha256, size: listing.size, contentType: 'application/json', headers: { 'Cache-Control': cacheControl(visibility, 0) } });
  });

  router.put('/:hash.ls', async (req: Request, res: Response) => {
    if (!isStorePathHash(String(req.params.hash))) throw new BadRequestError('not a store path hash');
    // Refused before access is checked, so no `100 Continue` invites the body.
    if ((declaredLength(req) ?? 0) > UPLOADED_LISTING_LIMIT) throw new PayloadTooLargeError(UPLOADED_LISTING_LIMIT);
    await access.require(req, 'write');
    await nix.files.checkUploadedListing(bodyOf(req, ctx.host.bodyIdleTimeoutMs), {
      maxSize: UPLOADED_LISTING_LIMIT,
      compressed: Boolean(req.headers['content-encoding']),
    });
    res.status(204).end();
  });

  router.get('/log/:drv', async (req: Request, res: Response) => {
    const drv = derivationName(String(req.params.drv));
    const { owner, visibility } = await cacheForReading(ctx, nix, req);
    const file = await nix.files.buildLog(owner.id, drv);
    if (!file) throw new NotFoundError(`no build log for ${drv} in this cache`);
    const encoding = file.properties.contentEncoding as string | undefined;
    await serveBlob(req, res, {
      sha256: file.sha256,
      size: file.size,
      contentType: 'text/plain; charset=utf-8',
      // Served with the encoding the uploader compressed it with (Nix 2.32+ log-compression).
      headers: { 'Cache-Control': cacheControl(visibility, 0), ...(encoding ? { 'Content-Encoding': encoding } : {}) },
    });
  });

  router.put('/log/:drv', async (req: Request, res: Response) => {
    const drv = derivationName(String(req.params.drv));
    if ((declaredLength(req) ?? 0) > LOG_LIMIT) throw new PayloadTooLargeError(LOG_LIMIT);
    const owner = await access.require(req, 'write');
    const encoding = req.headers['content-encoding'];
    await nix.files.storeBuildLog(owner, drv, bodyOf(req, ctx.host.bodyIdleTimeoutMs), {
      maxSize: LOG_LIMIT,
      ...(encoding ? { contentEncoding: String(encoding) } : {}),
    });
    res.status(201).end();
  });

  document('/debuginfo/:id', 'debuginfo');
  document('/realisations/:id', 'realisation');
  document('/build-trace-v2/:drv/:out', 'build-trace');

  /** GET/HEAD/PUT of a small JSON document kept as an owner file. */
  function document(route: string, kind: DocumentKind): void {
    router.get(route, async (req: Request, res: Response) => {
      const key = documentKey(kind, req.params as Record<string, string>);
      const { owner, visibility } = await cacheForReading(ctx, nix, req);
      const file = await nix.files.document(owner.id, key);
      if (!file) throw new NotFoundError(`${key} does not exist in this cache`);
      await serveBlob(req, res, { sha256: file.sha256, size: file.size, contentType: 'application/json', headers: { 'Cache-Control': cacheControl(visibility, 0) } });
    });
    router.put(route, async (req: Request, res: Response) => {
      const key = documentKey(kind, req.params as Record<string, string>);
      const owner = await access.require(req, 'write');
      await nix.files.storeDocument(owner, kind, key, await readSmallBody(req, SMALL_JSON_LIMIT, ctx.host.bodyIdleTimeoutMs));
      res.status(201).end();
    });
  }
}
