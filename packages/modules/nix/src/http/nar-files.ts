import type { Request, Response } from 'express';
import { NotFoundError } from '@forge/core';
import type { ModuleContext } from '@forge/core';
import type { NixCache } from '../cache/index.js';
import { bodyOf, declaredLength } from './body.js';
import { cacheControl } from './cache-control.js';
import { cacheForReading } from './guard.js';

/** `nar/<filehash>.nar[.ext]`: PUT verifies and stores an upload, GET and HEAD serve it. */
export function narFileRoutes(ctx: ModuleContext, nix: NixCache): void {
  const { router, access } = ctx;

  router.put('/nar/:file', async (req: Request, res: Response) => {
    // The name and the declared size are refused before access is checked or a byte is read.
    const expected = nix.nars.expect(String(req.params.file), declaredLength(req));
    const owner = await access.require(req, 'write');
    // Tells an upload still waiting for a verification slot that its client is gone.
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    await nix.nars.accept(owner, expected, bodyOf(req, ctx.host.bodyIdleTimeoutMs), { signal: gone.signal });
    res.status(201).end();
  });

  router.get('/nar/:file', async (req: Request, res: Response) => {
    const { owner, visibility } = await cacheForReading(ctx, nix, req);
    const file = await nix.nars.find(owner.id, String(req.params.file));
    if (!file) throw new NotFoundError(`nar/${req.params.file} does not exist in this cache`);
    await ctx.serveBlob(req, res, {
      sha256: file.sha256,
      size: file.size,
      // Never a Content-Encoding: Nix decompresses by the narinfo's Compression itself.
      contentType: 'application/x-nix-nar',
      headers: { 'Cache-Control': cacheControl(visibility, 31536000) },
    });
  });
}
