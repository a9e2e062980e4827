import express, { type Request, type Router } from 'express';
import { BadRequestError, ForbiddenError, NotFoundError, quotaPercent, type StorageStatus } from '@forge/core';
import { requireUserWithScope, type OwnerService } from '@forge/auth';
import type { Registry } from '@forge/registry';

/**
 * Quotas over the API (docs/quotas.md), for site administrators, with the `admin` scopes
 * as Gitea's admin API takes them:
 *   GET    /api/v1/admin/owners/{name}/quota   usage and quota of one owner
 *   PUT    /api/v1/admin/owners/{name}/quota   {"limit_bytes": N} or {"limit_bytes": null} (unlimited)
 *   DELETE /api/v1/admin/owners/{name}/quota   back to the server default (FORGE_OWNER_QUOTA_BYTES)
 *   GET    /api/v1/admin/storage               the physical total and every owner's usage (paged)
 */
export function quotaApiRouter(deps: { owners: OwnerService; registry: Registry }): Router {
  const router = express.Router();
  const json = express.json({ limit: '4kb' });

  function admin(req: Request, access: 'read' | 'write') {
    const user = requireUserWithScope(req, `${access}:admin`);
    if (!user.isAdmin) throw new ForbiddenError('only site administrators manage quotas');
    return user;
  }

  async function owner(req: Request) {
    const found = await deps.owners.findByName(String(req.params.name));
    if (!found) throw new NotFoundError(`owner "${String(req.params.name).slice(0, 40)}" does not exist`);
    return found;
  }

  router.get('/api/v1/admin/owners/:name/quota', async (req, res) => {
    admin(req, 'read');
    const o = await owner(req);
    res.json(toApi(o.name, await deps.registry.storageStatus(o.id)));
  });

  router.put('/api/v1/admin/owners/:name/quota', json, async (req, res) => {
    const by = admin(req, 'write');
    const o = await owner(req);
    const body = (req.body ?? {}) as Record<string, unknown>;
    if (!Object.hasOwn(body, 'limit_bytes')) throw new BadRequestError('the body must be {"limit_bytes": <bytes>} or {"limit_bytes": null} for unlimited');
    const limit = body.limit_bytes;
    if (limit !== null && !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= 0)) {
      throw new BadRequestError('limit_bytes must be a whole number of bytes ≥ 0, or null for unlimited');
    }
    await deps.registry.storage.setQuota(o.id, limit, by.name);
    res.json(toApi(o.name, await deps.registry.storageStatus(o.id)));
  });

  router.delete('/api/v1/admin/owners/:name/quota', async (req, res) => {
    admin(req, 'write');
    const o = await owner(req);
    await deps.registry.storage.setQuota(o.id, 'default');
    res.json(toApi(o.name, await deps.registry.storageStatus(o.id)));
  });

  router.get('/api/v1/admin/storage', async (req, res) => {
    admin(req, 'read');
    const page = Math.min(Math.max(Math.trunc(Number(req.query.page ?? 1)) || 1, 1), 1_000_000);
    const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 500);
    const [totals, list] = await Promise.all([deps.registry.storage.totals(), deps.registry.storage.list({ offset: (page - 1) * limit, limit })]);
    res.setHeader('X-Total-Count', String(list.total));
    res.json({
      blobs: totals.blobs,
      physical_bytes: totals.physicalBytes,
      charged_bytes: totals.chargedBytes,
      owners: list.items.map((item) => toApi(item.name, item)),
    });
  });

  return router;
}

function toApi(name: string, status: StorageStatus) {
  return {
    owner: name,
    used_bytes: status.usedBytes,
    limit_bytes: status.limitBytes,
    source: status.source,
    percent: quotaPercent(status),
    level: status.level,
  };
}
