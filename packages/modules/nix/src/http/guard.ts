import type { IncomingMessage } from 'node:http';
import type { Request } from 'express';
import type { ModuleContext } from '@forge/core';
import type { CacheContext, NixCache } from '../cache/index.js';

/**
 * The cache of `req.params.owner`, for a reader: the host's guard decides who may read
 * (with the cache's visibility, which the module declared), then the cache must exist.
 */
export async function cacheForReading(ctx: ModuleContext, nix: NixCache, req: Request | (IncomingMessage & { params: Record<string, string> })): Promise<CacheContext> {
  return nix.access.opened(await ctx.access.require(req as Request, 'read'));
}
