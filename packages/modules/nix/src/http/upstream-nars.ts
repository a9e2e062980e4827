import type { Request, Response } from 'express';
import { NotFoundError, type ModuleContext } from '@forge/core';
import type { NixCache } from '../cache/index.js';
import { isStorePathHash, parseNarFileName } from '../format/index.js';
import { cacheForReading } from './guard.js';

/**
 * `upstream/<id>/<hash part>/nar/<file>`: the NAR URL of a path this cache answers for one
 * of its upstreams (docs/nix-cache.md#upstream-caches). Read access as for any file of the
 * cache, then a redirect to the upstream's NAR (Nix follows redirects). In pull-through
 * mode the server also starts storing the path, in the background.
 */
export function upstreamNarRoutes(ctx: ModuleContext, nix: NixCache): void {
  ctx.router.get('/upstream/:id/:hash/nar/:file', async (req: Request, res: Response) => {
    const { owner } = await cacheForReading(ctx, nix, req);
    const id = Number(req.params.id);
    const hash = String(req.params.hash);
    const file = String(req.params.file);
    const upstream = Number.isSafeInteger(id) ? await nix.upstreams.byId(owner.id, id) : undefined;
    if (!upstream || !isStorePathHash(hash) || !parseNarFileName(file)) {
      throw new NotFoundError(`upstream/${req.params.id}/${hash}/nar/${file}: no such upstream NAR in this cache (its upstreams changed?)`);
    }
    void nix.pullThrough.schedule(owner, upstream, hash);
    // Never cached by a proxy: the next fetch may be served from this cache (pull-through).
    res.setHeader('Cache-Control', 'no-store');
    res.redirect(302, nix.upstreams.narLocation(upstream, file));
  });
}
