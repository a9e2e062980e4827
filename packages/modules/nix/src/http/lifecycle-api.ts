import express, { type NextFunction, type Request, type Response } from 'express';
import { BadRequestError, type ModuleContext } from '@forge/core';
import type { CollectionReport, NixCache, PinView } from '../cache/index.js';
import { jsonFields } from './json-fields.js';

/**
 * Storage lifecycle under `/api/packages/{owner}/nix/-/`: pins (named roots garbage
 * collection never takes) and collection on demand (`POST /-/gc`, with `{"dry_run": true}`
 * for a preview). Both need write access to the cache, like deleting a path; reading pins
 * needs read access. docs/garbage-collection.md.
 */
export function lifecycleApiRoutes(ctx: ModuleContext, nix: NixCache): void {
  const router = express.Router({ mergeParams: true });
  ctx.router.use('/-', router);
  const { access } = ctx;
  // The body is read only once the caller may write (the guard answers `Expect: 100-continue`).
  const writerJson = [
    async (req: Request, _res: Response, next: NextFunction) => {
      await access.require(req, 'write');
      next();
    },
    express.json({ limit: '16kb' }),
  ];

  router.get('/pins', async (req: Request, res: Response) => {
    const { owner } = await nix.access.opened(await access.require(req, 'read'));
    res.json({ pins: (await nix.pins.list(owner)).map(pinJson) });
  });

  router.get('/pins/:name', async (req: Request, res: Response) => {
    const { owner } = await nix.access.opened(await access.require(req, 'read'));
    res.json(pinJson(await nix.pins.get(owner, String(req.params.name))));
  });

  router.put('/pins/:name', ...writerJson, async (req: Request, res: Response) => {
    const { owner } = await nix.access.opened(await access.require(req, 'write'));
    const storePath = jsonFields(req, res)('store_path', 'storePath');
    if (typeof storePath !== 'string') throw new BadRequestError('send {"store_path": "/nix/store/<hash>-<name>"}');
    const { pin, created } = await nix.pins.put(owner, String(req.params.name), storePath, access.actor(req).user?.id ?? null);
    res.status(created ? 201 : 200).json(pinJson(pin));
  });

  router.delete('/pins/:name', async (req: Request, res: Response) => {
    const { owner } = await nix.access.opened(await access.require(req, 'write'));
    await nix.pins.delete(owner, String(req.params.name));
    res.status(204).end();
  });

  // Collects now (or, with {"dry_run": true}, answers what a collection would remove).
  router.post('/gc', ...writerJson, async (req: Request, res: Response) => {
    const { owner } = await nix.access.opened(await access.require(req, 'write'));
    const dryRun = jsonFields(req, res)('dry_run', 'dryRun');
    if (dryRun !== undefined && typeof dryRun !== 'boolean') throw new BadRequestError('dry_run must be true or false');
    res.json(reportJson(await nix.collection.collect(owner, { dryRun: dryRun === true })));
  });
}

function pinJson(pin: PinView) {
  return {
    name: pin.name,
    store_path: `/nix/store/${pin.storePath}`,
    created_at: pin.createdAt.toISOString(),
    updated_at: pin.updatedAt.toISOString(),
    history: pin.history.map((h) => ({ store_path: `/nix/store/${h.storePath}`, pinned_at: h.pinnedAt.toISOString() })),
  };
}

function reportJson(report: CollectionReport) {
  return {
    dry_run: report.dryRun,
    paths: report.items.map((i) => ({ store_path: i.storePath, file: i.file, nar_size: i.narSize, bytes: i.bytes, reason: i.reason })),
    count: report.items.length,
    bytes: report.bytes,
    spared: report.spared,
  };
}
