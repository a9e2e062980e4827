import type { Request, Response } from 'express';
import { Bytes, EmptyState, query, Time, type UiHelpers } from '@forge/core';
import type { StorePathSort } from '../cache/index.js';
import type { NixUi } from './nix-ui.js';

const PAGE_SIZE = 50;
const MAX_QUERY = 200;
const SORTS: Array<[StorePathSort, string]> = [
  ['created', 'Newest first'],
  ['name', 'Name'],
  ['size', 'Largest first'],
];
/** A pasted store path, base name or hash part: `/nix/store/<hash>-<name>`, `<hash>-<name>`, `<hash>`. */
const STORE_PATH_LIKE = /^(?:\/nix\/store\/)?([0-9a-df-np-sv-z]{32})(?:-[^/]*)?(?:\/.*)?$/;

/**
 * `/{owner}/-/packages/nix/-/cache/paths`: every store path of the cache. `?q=` matches a
 * name substring or a hash prefix (a whole store path jumps to its page), `?sort=` is
 * `created`, `name` or `size`, and `?after=` / `?before=` are keyset cursors, so a page deep
 * in a hundred thousand paths costs what the first does.
 */
export function pathsPage(nixUi: NixUi, ui: UiHelpers) {
  const { nix } = nixUi;
  return async (req: Request, res: Response) => {
    const { page } = await nixUi.cache(ui, req);
    const owner = page.owner;
    const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, MAX_QUERY) : '';
    const sort = SORTS.find(([s]) => s === req.query.sort)?.[0] ?? 'created';
    const after = typeof req.query.after === 'string' ? req.query.after : null;
    const before = typeof req.query.before === 'string' ? req.query.before : null;

    const pasted = STORE_PATH_LIKE.exec(q);
    if (pasted && !after && !before) {
      const hit = await nix.paths.byHash(owner.id, pasted[1]!);
      if (hit) return res.redirect(303, nixUi.pathUrl(owner, hit.hashPart));
    }

    const [list, stats] = await Promise.all([
      nix.paths.list(owner.id, { sort, query: q || undefined, limit: PAGE_SIZE, cursor: after, before }),
      q ? Promise.resolve(null) : nix.paths.stats(owner.id),
    ]);
    const base = nixUi.pathsUrl(owner);
    const keep = { q: q || undefined, sort: sort === 'created' ? undefined : sort };
    const now = Date.now();
    await ui.render(res, page, {
      title: q ? `“${q}” · Nix cache · ${owner.name}` : `Store paths · Nix cache · ${owner.name}`,
      trail: [
        ['Nix cache', nixUi.cacheUrl(owner)],
        ['Store paths', ''],
      ],
      body: (
        <>
          <form method="get" action={base} class="toolbar" role="search">
            <input type="search" name="q" value={q} placeholder="Search by name or hash…" aria-label="Search store paths by name or hash" maxLength={MAX_QUERY} />
            <select name="sort" aria-label="Sort by">
              {SORTS.map(([value, label]) => (
                <option value={value} selected={value === sort}>
                  {label}
                </option>
              ))}
            </select>
            <button type="submit" class="btn">
              Search
            </button>
          </form>
          <section class="card">
            <div class="card-header">
              <h2>{stats ? (stats.paths === 1 ? '1 store path' : `${stats.paths.toLocaleString('en')} store paths`) : `Store paths matching “${q}”`}</h2>
              {q ? (
                <a class="small" href={base + query({ sort: keep.sort })}>
                  Clear search
                </a>
              ) : null}
            </div>
            {list.items.length === 0 ? (
              <EmptyState title={q ? 'No store path matches' : after || before ? 'No more store paths' : 'Nothing pushed yet'}>
                {q ? <p class="muted">Names match anywhere, hashes from their first character.</p> : null}
              </EmptyState>
            ) : (
              <table class="table nix-paths" id="store-paths">
                <thead>
                  <tr>
                    <th>Store path</th>
                    <th class="num">NAR size</th>
                    <th class="num">Download</th>
                    <th class="num">Refs</th>
                    <th>Pushed</th>
                  </tr>
                </thead>
                <tbody>
                  {list.items.map((p) => (
                    <tr data-hash={p.hashPart}>
                      <td class="nix-path-cell">
                        <a class="nix-path-name" href={nixUi.pathUrl(owner, p.hashPart)}>
                          {p.name}
                        </a>
                        <div class="mono small muted nix-hash">{p.hashPart}</div>
                      </td>
                      <td class="num">
                        <Bytes bytes={p.narSize} />
                      </td>
                      <td class="num">
                        <Bytes bytes={p.fileSize} /> <span class="badge badge-outline">{p.compression}</span>
                      </td>
                      <td class="num">{p.references.filter((r) => !r.startsWith(p.hashPart)).length}</td>
                      <td class="nowrap">
                        <Time date={p.createdAt} now={now} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          {list.prev || list.next ? (
            <nav class="pagination" aria-label="Pages">
              {list.prev ? (
                <>
                  <a class="page" href={base + query(keep)}>
                    « First
                  </a>
                  <a class="page" href={base + query({ ...keep, before: list.prev })} rel="prev">
                    ‹ Previous
                  </a>
                </>
              ) : (
                <span class="page disabled">‹ Previous</span>
              )}
              {list.next ? (
                <a class="page" href={base + query({ ...keep, after: list.next })} rel="next">
                  Next ›
                </a>
              ) : (
                <span class="page disabled">Next ›</span>
              )}
            </nav>
          ) : null}
        </>
      ),
    });
  };
}
