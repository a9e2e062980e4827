import express, { type Router } from 'express';
import type { VNode } from 'preact';
import { NotFoundError, type FileRecord, type UiPageContext, type VersionRecord } from '@forge/core';
import { Avatar, Bytes, EmptyState, Pagination, pageParam, Time } from '../shell/components.js';
import { href, query } from '../shell/format.js';
import type { Shell } from '../shell/shell.js';
import { StorageUsage } from '../shell/storage.js';

const PACKAGES_PER_PAGE = 20;
const VERSIONS_PER_PAGE = 50;
const MAX_QUERY_LENGTH = 100;

/**
 * Gitea's package pages, for every type alike (the host never switches on a type):
 *   /{owner}/-/packages                          every package; ?type=, ?q=, ?page=
 *   /{owner}/-/packages/{type}/-/…               the module's own pages (UiRegistry.pages)
 *   /{owner}/-/packages/{type}/{name}            a package and its versions
 *   /{owner}/-/packages/{type}/{name}/{version}  a version: the module's view and the facts
 */
export function packageRoutes(shell: Shell): Router {
  const router = express.Router();
  const { registry, ui, owners, access } = shell.deps;
  /** The package types this viewer may read in this namespace (a type may be more private than its owner). */
  const readableTypes = async (ctx: UiPageContext) => {
    const types: string[] = [];
    for (const type of ui.displayNames.keys()) if (await access.canReadType(ctx.actor, ctx.owner, type)) types.push(type);
    return types;
  };
  const typeName = (type: string) => ui.displayNames.get(type) ?? type;
  const packagesUrl = (ctx: UiPageContext) => href(ctx.owner.name, '-', 'packages');

  router.get('/:owner', async (req, res) => {
    const ctx = await shell.ownerContext(req);
    res.redirect(303, packagesUrl(ctx));
  });

  router.get('/:owner/-/packages', async (req, res) => {
    const ctx = await shell.ownerContext(req);
    const readable = await readableTypes(ctx);
    const type = typeof req.query.type === 'string' && readable.includes(req.query.type) ? req.query.type : undefined;
    const q = typeof req.query.q === 'string' ? req.query.q.trim().slice(0, MAX_QUERY_LENGTH) : '';
    const page = pageParam(req.query.page);
    const { items, total } = await registry.listPackages({
      ownerId: ctx.owner.id,
      type,
      types: readable,
      query: q || undefined,
      offset: (page - 1) * PACKAGES_PER_PAGE,
      limit: PACKAGES_PER_PAGE,
    });
    const summaries = await registry.summarizePackages(items.map((p) => p.id));
    // The owner's writers see its storage against its quota.
    const storage = ctx.canWrite ? await registry.storageStatus(ctx.owner.id) : null;
    const base = packagesUrl(ctx);
    const now = Date.now();
    await shell.renderOwnerPage(res, ctx, {
      title: `Packages · ${ctx.owner.name}`,
      body: (
        <>
          {storage ? (
            <section class="card">
              <div class="card-body">
                <StorageUsage status={storage} ownerName={ctx.owner.name} />
              </div>
            </section>
          ) : null}
          <form method="get" action={base} class="toolbar" role="search">
            <input type="search" name="q" value={q} placeholder="Search packages…" aria-label="Search packages by name" maxLength={MAX_QUERY_LENGTH} />
            <select name="type" aria-label="Package type">
              <option value="">All types</option>
              {[...ui.displayNames].filter(([id]) => readable.includes(id)).map(([id, label]) => (
                <option value={id} selected={id === type}>
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
              <h2>{total === 1 ? '1 package' : `${total.toLocaleString('en')} packages`}</h2>
              {q || type ? (
                <a class="small" href={base}>
                  Clear filters
                </a>
              ) : null}
            </div>
            {items.length === 0 ? (
              <EmptyState title={q || type ? 'No package matches' : `${ctx.owner.name} has not published any packages yet`}>
                {!q && !type && ctx.canWrite ? (
                  <p class="muted">
                    Packages appear here once they are published through the package API with an <a href="/user/settings/applications">access token</a>.
                  </p>
                ) : null}
              </EmptyState>
            ) : (
              <ul class="list" id="packages">
                {items.map((p) => {
                  const summary = summaries.get(p.id);
                  const latest = summary?.latest;
                  return (
                    <li class="list-item package-item" data-package={`${p.type}/${p.name}`}>
                      <div class="package-line">
                        <a class="package-name" href={href(ctx.owner.name, '-', 'packages', p.type, p.name)}>
                          {p.name}
                        </a>
                        <a class="badge badge-blue" href={base + query({ type: p.type })}>
                          {typeName(p.type)}
                        </a>
                      </div>
                      <div class="muted small">
                        {latest ? (
                          <>
                            <span class="mono">{latest.version}</span> · published <Time date={latest.createdAt} now={now} />
                            {summary && summary.versions > 1 ? ` · ${summary.versions} versions` : null}
                          </>
                        ) : (
                          <>
                            created <Time date={p.createdAt} now={now} />
                          </>
                        )}
                      </div>
                    </li>
                  );
                })}
              </ul>
            )}
          </section>
          <Pagination path={base} page={page} pageSize={PACKAGES_PER_PAGE} total={total} params={{ q: q || undefined, type }} />
        </>
      ),
    });
  });

  // Modules' own pages, before the package routes (a package named "-" cannot shadow them).
  for (const [type, mounts] of ui.pageMounts) {
    const moduleRouter = express.Router({ mergeParams: true });
    const helpers = shell.helpersFor(type);
    for (const mount of mounts) mount(moduleRouter, helpers);
    router.use(`/:owner/-/packages/${type}/-`, moduleRouter);
  }

  async function findPackage(ctx: UiPageContext, type: string, name: string) {
    if (!(await access.canReadType(ctx.actor, ctx.owner, type))) throw new NotFoundError();
    const pkg = await registry.getPackage(ctx.owner.id, type, name);
    if (!pkg) throw new NotFoundError();
    return pkg;
  }

  router.get('/:owner/-/packages/:type/:name', async (req, res) => {
    const ctx = await shell.ownerContext(req);
    const pkg = await findPackage(ctx, String(req.params.type), String(req.params.name));
    const versions = await registry.listVersions(pkg.id);
    const page = pageParam(req.query.page);
    const shown = versions.slice((page - 1) * VERSIONS_PER_PAGE, page * VERSIONS_PER_PAGE);
    const sizes = await registry.summarizeVersions(shown.map((v) => v.id));
    const base = href(ctx.owner.name, '-', 'packages', pkg.type, pkg.name);
    const now = Date.now();
    await shell.renderOwnerPage(res, ctx, {
      title: `${pkg.name} · ${ctx.owner.name}`,
      trail: [
        [typeName(pkg.type), packagesUrl(ctx) + query({ type: pkg.type })],
        [pkg.name, ''],
      ],
      body: (
        <div class="page-grid">
          <div class="page-main">
            <section class="card">
              <div class="card-header">
                <h2>Versions</h2>
                <span class="muted">{versions.length}</span>
              </div>
              {versions.length === 0 ? (
                <EmptyState title="No versions" />
              ) : (
                <table class="table" id="versions">
                  <thead>
                    <tr>
                      <th>Version</th>
                      <th class="num">Files</th>
                      <th class="num">Size</th>
                      <th>Published</th>
                    </tr>
                  </thead>
                  <tbody>
                    {shown.map((v) => (
                      <tr>
                        <td>
                          <a class="mono" href={`${base}/${encodeURIComponent(v.version)}`}>
                            {v.version}
                          </a>
                        </td>
                        <td class="num">{sizes.get(v.id)?.files ?? 0}</td>
                        <td class="num">
                          <Bytes bytes={sizes.get(v.id)?.size ?? 0} />
                        </td>
                        <td>
                          <Time date={v.createdAt} now={now} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
            <Pagination path={base} page={page} pageSize={VERSIONS_PER_PAGE} total={versions.length} />
          </div>
          <aside class="page-side">
            <section class="card">
              <div class="card-header">
                <h2>About</h2>
              </div>
              <div class="card-body">
                <dl class="kv">
                  <dt>Type</dt>
                  <dd>{typeName(pkg.type)}</dd>
                  <dt>Versions</dt>
                  <dd>{versions.length}</dd>
                  {versions[0] ? (
                    <>
                      <dt>Latest</dt>
                      <dd class="mono">{versions[0].version}</dd>
                    </>
                  ) : null}
                  <dt>Created</dt>
                  <dd>
                    <Time date={pkg.createdAt} now={now} />
                  </dd>
                </dl>
              </div>
            </section>
          </aside>
        </div>
      ),
    });
  });

  router.get('/:owner/-/packages/:type/:name/:version', async (req, res) => {
    const ctx = await shell.ownerContext(req);
    const pkg = await findPackage(ctx, String(req.params.type), String(req.params.name));
    const version = await registry.getVersion(pkg.id, String(req.params.version));
    if (!version) throw new NotFoundError();
    const [files, versions, creator] = await Promise.all([
      registry.listFiles(version.id),
      registry.listVersions(pkg.id),
      version.creatorId ? owners.findById(version.creatorId) : Promise.resolve(null),
    ]);
    const view = ui.versionViews.get(pkg.type);
    const content: VNode = view ? await view({ ctx, pkg, version, files }) : <FileTable files={files} />;
    const base = href(ctx.owner.name, '-', 'packages', pkg.type, pkg.name);
    const totalSize = files.reduce((sum, f) => sum + f.size, 0);
    const now = Date.now();
    await shell.renderOwnerPage(res, ctx, {
      title: `${pkg.name} ${version.version} · ${ctx.owner.name}`,
      trail: [
        [typeName(pkg.type), packagesUrl(ctx) + query({ type: pkg.type })],
        [pkg.name, base],
        [version.version, ''],
      ],
      body: (
        <div class="page-grid">
          <div class="page-main module-view">{content}</div>
          <aside class="page-side">
            <section class="card">
              <div class="card-header">
                <h2>Details</h2>
              </div>
              <div class="card-body">
                <dl class="kv">
                  <dt>Type</dt>
                  <dd>{typeName(pkg.type)}</dd>
                  <dt>Version</dt>
                  <dd class="mono">{version.version}</dd>
                  <dt>Published</dt>
                  <dd>
                    <Time date={version.createdAt} now={now} />
                  </dd>
                  {creator ? (
                    <>
                      <dt>By</dt>
                      <dd>
                        <a class="owner-link" href={href(creator.name, '-', 'packages')}>
                          <Avatar name={creator.name} size="sm" />
                          {creator.name}
                        </a>
                      </dd>
                    </>
                  ) : null}
                  <dt>Files</dt>
                  <dd>{files.length}</dd>
                  <dt>Total size</dt>
                  <dd>
                    <Bytes bytes={totalSize} />
                  </dd>
                </dl>
              </div>
            </section>
            <OtherVersions base={base} versions={versions} current={version} />
          </aside>
        </div>
      ),
    });
  });

  return router;
}

function OtherVersions({ base, versions, current }: { base: string; versions: VersionRecord[]; current: VersionRecord }) {
  const others = versions.filter((v) => v.id !== current.id).slice(0, 10);
  if (others.length === 0) return null;
  return (
    <section class="card">
      <div class="card-header">
        <h2>Other versions</h2>
        {versions.length - 1 > others.length ? (
          <a class="small" href={base}>
            All {versions.length}
          </a>
        ) : null}
      </div>
      <ul class="list list-compact">
        {others.map((v) => (
          <li class="list-item">
            <a class="mono" href={`${base}/${encodeURIComponent(v.version)}`}>
              {v.version}
            </a>
            <span class="list-item-end muted small">
              <Time date={v.createdAt} />
            </span>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** A version's files when its module contributes no view (names, sizes, hashes; no download links: addresses are the module's). */
function FileTable({ files }: { files: FileRecord[] }) {
  return (
    <section class="card">
      <div class="card-header">
        <h2>Files</h2>
      </div>
      <table class="table">
        <thead>
          <tr>
            <th>Name</th>
            <th class="num">Size</th>
            <th>SHA-256</th>
          </tr>
        </thead>
        <tbody>
          {files.map((f) => (
            <tr>
              <td class="break">{f.name}</td>
              <td class="num">
                <Bytes bytes={f.size} />
              </td>
              <td class="mono small hash">{f.sha256}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
