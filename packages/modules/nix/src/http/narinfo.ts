import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { NotFoundError, type ModuleContext } from '@forge/core';
import { refuseBadInput, type NixCache } from '../cache/index.js';
import { isStorePathHash, parseNarInfo } from '../format/index.js';
import { readSmallBody } from './body.js';
import { cacheControl } from './cache-control.js';
import { cacheForReading } from './guard.js';

/** Largest narinfo accepted (Nix's are a few hundred bytes; a closure's paths list many references). */
const NARINFO_LIMIT = 4 * 1024 * 1024;

function hashFromParam(req: Request): string {
  const hash = String(req.params.hash);
  if (!isStorePathHash(hash)) throw new NotFoundError(`"${hash}" is not a store path hash`);
  return hash;
}

/** GET/HEAD `<hash>.narinfo` (plain node response API: it also runs in the fast lane). */
async function answerNarInfo(ctx: ModuleContext, nix: NixCache, req: Request, res: ServerResponse, hash: string): Promise<void> {
  const { owner, visibility } = await cacheForReading(ctx, nix, req);
  const found = await nix.narinfos.find(owner.id, hash);
  if (!found) throw new NotFoundError(`${hash}.narinfo does not exist in this cache`);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/x-nix-narinfo');
  res.setHeader('Content-Length', String(found.body.length));
  res.setHeader('Cache-Control', cacheControl(visibility, 0));
  res.end(req.method === 'HEAD' ? undefined : found.body);
}

/** `<hash>.narinfo`: GET and HEAD (also in the fast lane), PUT to publish, DELETE to remove. */
export function narInfoRoutes(ctx: ModuleContext, nix: NixCache): void {
  const { router, access } = ctx;

  router.get('/:hash.narinfo', (req: Request, res: Response) => answerNarInfo(ctx, nix, req, res, hashFromParam(req)));
  // The hottest request a Nix cache answers: also matched before express routing.
  ctx.fastRoute({
    pattern: /^([0-9a-df-np-sv-z]{32})\.narinfo$/,
    route: '/:hash.narinfo',
    handle: (req, res, match) => answerNarInfo(ctx, nix, req as unknown as Request, res, match[1]!),
  });

  router.put('/:hash.narinfo', async (req: Request, res: Response) => {
    const hashPart = hashFromParam(req);
    const owner = await access.require(req, 'write');
    const body = await readSmallBody(req, NARINFO_LIMIT, ctx.host.bodyIdleTimeoutMs);
    const info = await refuseBadInput('invalid narinfo', () => parseNarInfo(body));
    const actor = access.actor(req);
    const { created } = await nix.publisher.publish({ owner, hashPart, info, creatorId: actor.user?.id ?? null, tokenName: actor.tokenName ?? null });
    res.status(created ? 201 : 200).end();
  });

  // `?recursive=true` also deletes every path that depends on it (409 otherwise).
  router.delete('/:hash.narinfo', async (req: Request, res: Response) => {
    const hash = hashFromParam(req);
    const owner = await access.require(req, 'write');
    const withDependents = ['1', 'true', 'yes'].includes(String(req.query.recursive ?? '').toLowerCase());
    const deleted = await nix.deletion.delete(owner, [hash], { withDependents });
    res.status(200).type('text/plain').send(deleted.map((p) => `deleted /nix/store/${p.hashPart}-${p.name}`).join('\n') + '\n');
  });
}
