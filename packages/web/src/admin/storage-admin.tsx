import express, { type Router } from 'express';
import { BadRequestError, formatBytes, NotFoundError, quotaPercent, type StorageStatus } from '@forge/core';
import { Bytes, EmptyState, Pagination, pageParam, PostForm } from '../shell/components.js';
import { href } from '../shell/format.js';
import type { Shell } from '../shell/shell.js';

/** What the administrators' storage page needs from the registry (its StorageAccounting). */
export interface StorageAdministration {
  list(options: { offset?: number; limit?: number; query?: string }): Promise<{ items: Array<StorageStatus & { name: string; type: 'user' | 'org' }>; total: number }>;
  totals(): Promise<{ blobs: number; physicalBytes: number; chargedBytes: number }>;
  setQuota(ownerId: number, limit: number | null | 'default', by?: string): Promise<void>;
}

const OWNERS_PER_PAGE = 50;

/**
 * `/-/admin/storage` (Gitea's site administration lives under `/-/admin`), for site
 * administrators only (404 for everyone else): what the blob store holds, deduplicated,
 * against what owners are charged, and every owner's usage and quota, with a form to set it.
 */
export function storageAdminRoutes(shell: Shell, storage: StorageAdministration): Router {
  const router = express.Router();
  const path = '/-/admin/storage';

  function requireAdmin(req: express.Request) {
    const user = shell.requireUser(req);
    if (!user.isAdmin) throw new NotFoundError();
    return user;
  }

  router.get(path, async (req, res) => {
    requireAdmin(req);
    const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, 40) : '';
    const page = pageParam(req.query.page);
    const [totals, list] = await Promise.all([storage.totals(), storage.list({ offset: (page - 1) * OWNERS_PER_PAGE, limit: OWNERS_PER_PAGE, query: q || undefined })]);
    const csrf = shell.csrfToken(req);
    await shell.render(req, res, {
      title: 'Storage · Site administration',
      body: (
        <>
          <section class="card" id="storage-totals">
            <div class="card-header">
              <h2>Storage</h2>
            </div>
            <div class="card-body">
              <dl class="kv">
                <dt>On disk</dt>
                <dd data-physical={totals.physicalBytes}>
                  <Bytes bytes={totals.physicalBytes} /> in {totals.blobs.toLocaleString('en')} blobs{' '}
                  <span class="muted small">(every content once, however many owners hold it; includes blobs awaiting the sweep)</span>
                </dd>
                <dt>Charged to owners</dt>
                <dd data-charged={totals.chargedBytes}>
                  <Bytes bytes={totals.chargedBytes} /> <span class="muted small">(each owner pays for its distinct blobs, whoever else holds them)</span>
                </dd>
              </dl>
            </div>
          </section>
          <form method="get" action={path} class="toolbar" role="search">
            <input type="search" name="q" value={q} placeholder="Find an owner…" aria-label="Find an owner" maxLength={40} />
            <button type="submit" class="btn">
              Search
            </button>
          </form>
          <section class="card">
            <div class="card-header">
              <h2>Owners by usage</h2>
              <span class="muted">{list.total.toLocaleString('en')}</span>
            </div>
            {list.items.length === 0 ? (
              <EmptyState title="No owner matches" />
            ) : (
              <table class="table" id="owner-storage">
                <thead>
                  <tr>
                    <th>Owner</th>
                    <th>Used</th>
                    <th>Quota</th>
                    <th>Set quota</th>
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((o) => (
                    <tr data-owner={o.name} data-level={o.level}>
                      <td>
                        <a href={href(o.name, '-', 'packages')}>{o.name}</a> {o.type === 'org' ? <span class="badge badge-outline">org</span> : null}
                      </td>
                      <td>
                        <Bytes bytes={o.usedBytes} />
                        {o.limitBytes !== null ? <span class="muted small"> ({quotaPercent(o)}%)</span> : null}
                      </td>
                      <td>
                        {o.limitBytes === null ? 'unlimited' : formatBytes(o.limitBytes)}
                        {o.source === 'default' ? <span class="muted small"> (default)</span> : null}
                      </td>
                      <td>
                        <PostForm action={path} csrf={csrf} class="inline-form">
                          <input type="hidden" name="owner" value={o.name} />
                          <input
                            type="text"
                            name="quota"
                            required
                            placeholder="10GiB, unlimited, default"
                            aria-label={`Quota of ${o.name}`}
                            value={o.source === 'owner' ? (o.limitBytes === null ? 'unlimited' : String(o.limitBytes)) : ''}
                            maxLength={32}
                          />
                          <button type="submit" class="btn btn-small">
                            Set
                          </button>
                        </PostForm>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <Pagination path={path} page={page} pageSize={OWNERS_PER_PAGE} total={list.total} params={{ q: q || undefined }} />
        </>
      ),
    });
  });

  router.post(path, async (req, res) => {
    const user = requireAdmin(req);
    const body = req.body as Record<string, unknown>;
    const owner = await shell.deps.owners.findByName(String(body.owner ?? ''));
    if (!owner) throw new BadRequestError(`there is no owner “${String(body.owner ?? '').slice(0, 40)}”`);
    const limit = parseQuotaText(String(body.quota ?? ''));
    await storage.setQuota(owner.id, limit, user.name);
    shell.deps.logger.info('quota set', { owner: owner.name, limit, by: user.name });
    const said = limit === 'default' ? 'the server default' : limit === null ? 'unlimited' : formatBytes(limit);
    shell.redirect(res, path, `The quota of ${owner.name} is now ${said}.`);
  });

  return router;
}

/** `1073741824`, `500MiB`, `10G`, `unlimited` or `default` (as `forge admin owner set-quota --bytes`). */
export function parseQuotaText(text: string): number | null | 'default' {
  const value = text.trim().toLowerCase();
  if (value === 'unlimited' || value === 'none') return null;
  if (value === 'default') return 'default';
  const match = /^(\d+)\s*(b|k|kib|m|mib|g|gib|t|tib)?$/.exec(value);
  const n = match ? Number(match[1]) * 1024 ** 'bkmgt'.indexOf((match[2] ?? 'b')[0]!) : NaN;
  if (!Number.isSafeInteger(n)) throw new BadRequestError(`a quota is a number of bytes (e.g. 1073741824 or 10GiB), “unlimited” or “default”; got “${text.slice(0, 40)}”`);
  return n;
}
