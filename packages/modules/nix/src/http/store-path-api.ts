import express, { type Request, type Response } from 'express';
import { NotFoundError, type ModuleContext } from '@forge/core';
import type { NixCache, StorePathRecord, StorePathSort } from '../cache/index.js';
import { isStorePathHash } from '../format/index.js';
import { cacheForReading } from './guard.js';

/** Default and largest page of the store-path API (Gitea's `limit`). */
const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 200;

/**
 * The store-path API under `/api/packages/{owner}/nix/-/paths` (docs/nix-cache.md#store-path-api):
 * JSON in Gitea's style (snake_case), who may read the cache may read it (the same guard
 * as the pages). Lists are paged by keyset: `Link` (rel="next", "prev", "first") carries
 * the cursor, `X-Total-Count` the number of matching paths.
 *
 *   GET /-/paths?q=&sort=created|name|size&limit=    list and search (name substring or hash prefix)
 *   GET /-/paths/{hash}                              one path: facts, provenance, closure figures
 *   GET /-/paths/{hash}/references                   its references (stored here or upstream)
 *   GET /-/paths/{hash}/referrers?limit=             paths of this cache that reference it
 *   GET /-/paths/{hash}/closure?limit=               its closure in this cache, with the total size
 */
export function storePathApiRoutes(ctx: ModuleContext, nix: NixCache): void {
  const router = express.Router({ mergeParams: true });
  ctx.router.use('/-/paths', router);
  const base = ctx.host.baseUrl;

  router.get('/', async (req: Request, res: Response) => {
    const { owner } = await cacheForReading(ctx, nix, req);
    const q = typeof req.query.q === 'string' ? req.query.q.slice(0, 200) : undefined;
    const sort = (['created', 'name', 'size'] as const).includes(req.query.sort as StorePathSort) ? (req.query.sort as StorePathSort) : 'created';
    const limit = limitOf(req);
    const [page, total] = await Promise.all([
      nix.paths.list(owner.id, { sort, query: q, limit, cursor: stringParam(req, 'cursor'), before: stringParam(req, 'before') }),
      nix.paths.count(owner.id, q),
    ]);
    paginate(base, req, res, total, { next: page.next ? { cursor: page.next } : null, prev: page.prev ? { before: page.prev } : null });
    res.json(page.items.map(summary));
  });

  router.get('/:hash', async (req: Request, res: Response) => {
    const { owner } = await cacheForReading(ctx, nix, req);
    const facts = await nix.explorer.facts(owner.id, hashOf(req));
    if (!facts) throw new NotFoundError(`${req.params.hash}: no such store path in this cache`);
    const { path, provenance } = facts;
    res.json({
      ...summary(path),
      url: path.url,
      file_hash: `sha256:${path.fileHash}`,
      deriver: path.deriver ? `/nix/store/${path.deriver}` : null,
      system: path.system,
      ca: path.ca,
      references: path.references.map((r) => `/nix/store/${r}`),
      signatures: path.sigs,
      pushed_by: provenance.user === null && provenance.token === null ? null : { user: provenance.user, token: provenance.token },
      pushed_at: provenance.at.toISOString(),
      pulled_from: provenance.pulledFrom,
      closure: { paths: facts.closure.count, nar_size: facts.closure.narSize },
      referrers: facts.referrers,
    });
  });

  router.get('/:hash/references', async (req: Request, res: Response) => {
    const { owner } = await cacheForReading(ctx, nix, req);
    const path = await nix.paths.byHash(owner.id, hashOf(req));
    if (!path) throw new NotFoundError(`${req.params.hash}: no such store path in this cache`);
    const present = await nix.paths.present(owner.id, path.references.map((r) => r.slice(0, 32)));
    res.setHeader('X-Total-Count', String(path.references.length));
    // A reference not stored here is served by an upstream (the upload check accepted it so).
    res.json(path.references.map((r) => ({ path: `/nix/store/${r}`, hash: r.slice(0, 32), name: r.slice(33), stored: present.get(r.slice(0, 32)) === r.slice(33) })));
  });

  router.get('/:hash/referrers', async (req: Request, res: Response) => {
    const { owner } = await cacheForReading(ctx, nix, req);
    const hash = hashOf(req);
    if (!(await nix.paths.byHash(owner.id, hash))) throw new NotFoundError(`${hash}: no such store path in this cache`);
    const limit = limitOf(req);
    const [items, total] = await Promise.all([
      nix.paths.referrersPage(owner.id, hash, { limit: limit + 1, after: keysetOf(req) }),
      nix.paths.referrerCount(owner.id, hash),
    ]);
    pageOfNames(base, req, res, items, limit, total);
  });

  router.get('/:hash/closure', async (req: Request, res: Response) => {
    const { owner } = await cacheForReading(ctx, nix, req);
    const hash = hashOf(req);
    if (!(await nix.paths.byHash(owner.id, hash))) throw new NotFoundError(`${hash}: no such store path in this cache`);
    const limit = limitOf(req);
    const [items, closure] = await Promise.all([
      nix.paths.closurePage(owner.id, hash, { limit: limit + 1, after: keysetOf(req) }),
      nix.paths.closure(owner.id, hash),
    ]);
    // The closure's total NAR size, whichever page this is.
    res.setHeader('X-Closure-Nar-Size', String(closure.narSize));
    pageOfNames(base, req, res, items, limit, closure.count);
  });
}

/** A path as lists show it. */
function summary(p: StorePathRecord) {
  return {
    path: `/nix/store/${p.hashPart}-${p.name}`,
    hash: p.hashPart,
    name: p.name,
    nar_hash: `sha256:${p.narHash}`,
    nar_size: p.narSize,
    file_size: p.fileSize,
    compression: p.compression,
    created_at: p.createdAt.toISOString(),
    last_accessed_at: p.lastAccessedAt.toISOString(),
  };
}

function hashOf(req: Request): string {
  const hash = String(req.params.hash);
  if (!isStorePathHash(hash)) throw new NotFoundError(`"${hash}" is not a store path hash`);
  return hash;
}

function limitOf(req: Request): number {
  const n = Number(req.query.limit);
  return Number.isInteger(n) && n >= 1 ? Math.min(n, MAX_LIMIT) : DEFAULT_LIMIT;
}

function stringParam(req: Request, name: string): string | null {
  const v = req.query[name];
  return typeof v === 'string' && v.length <= 512 ? v : null;
}

/** The `after` keyset of a referrers or closure page: base64url of [name, id]. */
function keysetOf(req: Request): [string, number] | null {
  const raw = stringParam(req, 'after');
  if (!raw) return null;
  try {
    const [name, id] = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof name === 'string' && name.length <= 211 && !name.includes('\u0000') && Number.isSafeInteger(id) && (id as number) > 0 && (id as number) < 2 ** 31) {
      return [name, id as number];
    }
  } catch {
    // A tampered cursor is the first page.
  }
  return null;
}

/** A page of `items` fetched with one extra row (there is a next page when it came back). */
function pageOfNames(baseUrl: string, req: Request, res: Response, items: StorePathRecord[], limit: number, total: number): void {
  const page = items.slice(0, limit);
  const last = page[page.length - 1];
  const next = items.length > limit && last ? { after: Buffer.from(JSON.stringify([last.name, last.id])).toString('base64url') } : null;
  paginate(baseUrl, req, res, total, { next, prev: null });
  res.json(page.map(summary));
}

/** `X-Total-Count` and a `Link` header with rel="next", "prev" and "first" (Gitea's, with cursors). */
function paginate(baseUrl: string, req: Request, res: Response, total: number, links: { next: Record<string, string> | null; prev: Record<string, string> | null }): void {
  res.setHeader('X-Total-Count', String(total));
  const base = new URL(req.originalUrl, 'http://x');
  for (const k of ['cursor', 'before', 'after']) base.searchParams.delete(k);
  const href = (extra: Record<string, string>) => {
    const u = new URL(base);
    for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
    return `${baseUrl}${u.pathname}${u.search}`;
  };
  const parts: string[] = [];
  if (links.next) parts.push(`<${href(links.next)}>; rel="next"`);
  if (links.prev) parts.push(`<${href(links.prev)}>; rel="prev"`);
  parts.push(`<${href({})}>; rel="first"`);
  res.setHeader('Link', parts.join(', '));
  res.setHeader('Access-Control-Expose-Headers', 'Link, X-Total-Count');
}
