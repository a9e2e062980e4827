import express, { type Router } from 'express';
import { NotFoundError, UnauthorizedError } from '@forge/core';
import { assertScope, type OwnerService, type PackageAccessGuard } from '@forge/auth';
import type { Registry } from '@forge/registry';

const MAX_PAGE = 1_000_000;

/** Gitea's `GET /api/v1/packages/{owner}`: the packages an owner published, every type. */
export function packagesApiRouter(deps: { owners: OwnerService; access: PackageAccessGuard; registry: Registry; types: readonly string[] }): Router {
  const router = express.Router();
  router.get('/api/v1/packages/:owner', async (req, res) => {
    const actor = deps.access.actor(req);
    assertScope(actor, 'read:package');
    const owner = await deps.owners.findByName(String(req.params.owner));
    if (!owner || !(await deps.access.can(actor, owner, 'read'))) {
      throw actor.user ? new NotFoundError('owner not found') : new UnauthorizedError();
    }
    const types = [];
    for (const type of deps.types) if (await deps.access.canReadType(actor, owner, type)) types.push(type);
    // Bounded so the offset stays an integer PostgreSQL accepts (page=1e300 is page 1 000 000).
    const page = Math.min(Math.max(Math.trunc(Number(req.query.page ?? 1)) || 1, 1), MAX_PAGE);
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 500);
    const { items, total } = await deps.registry.listPackages({
      ownerId: owner.id,
      type: typeof req.query.type === 'string' && req.query.type ? req.query.type : undefined,
      types,
      query: typeof req.query.q === 'string' ? req.query.q : undefined,
      offset: (page - 1) * limit,
      limit,
    });
    res.setHeader('X-Total-Count', String(total));
    res.json(
      items.map((p) => ({ id: p.id, owner: owner.name, type: p.type, name: p.name, created_at: p.createdAt.toISOString() })),
    );
  });
  return router;
}
