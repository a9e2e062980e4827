import express, { type Request, type Router } from 'express';
import { NotFoundError, UnauthorizedError, type FileRecord, type FoundVersion, type Owner, type User } from '@forge/core';
import { assertScope, ghostApiUser, toApiUser, type OwnerService, type PackageAccessGuard } from '@forge/auth';
import type { Registry } from '@forge/registry';
import { pageOf, setPageHeaders } from './pagination.js';
import type { PackageVersions } from './version-hooks.js';

export interface PackagesApiDeps {
  owners: OwnerService;
  access: PackageAccessGuard;
  registry: Registry;
  versions: PackageVersions;
  /** The package types this server serves (module ids). */
  types: readonly string[];
  baseUrl: string;
}

/**
 * Gitea's package API under `/api/v1/packages/{owner}`: the list (one item per version,
 * newest first, as Gitea lists them), one version, its files, and deleting it. Access is
 * the package routes' own: reading takes `read:package` and read access to the owner's
 * packages of that type (a Nix cache's own visibility included), deleting takes
 * `write:package` and write access. Whoever may not read learns nothing: 401 for anonymous
 * callers, 404 for others, whether the owner, the package or the version is missing.
 */
export function packagesApiRouter(deps: PackagesApiDeps): Router {
  const { access, registry, versions, baseUrl } = deps;
  const router = express.Router();

  async function ownerFor(req: Request): Promise<Owner> {
    const actor = access.actor(req);
    assertScope(actor, 'read:package');
    const owner = await deps.owners.findByName(String(req.params.owner));
    if (!owner || !(await access.can(actor, owner, 'read'))) throw hidden(req);
    return owner;
  }

  function hidden(req: Request): Error {
    return access.actor(req).user ? new NotFoundError('package not found') : new UnauthorizedError();
  }

  /** The version a request names, after the access check for `mode` on its type. */
  async function versionFor(req: Request, mode: 'read' | 'write'): Promise<{ owner: Owner; found: FoundVersion }> {
    const type = String(req.params.type);
    const name = String(req.params.name);
    const version = String(req.params.version);
    const actor = access.actor(req);
    if (!deps.types.includes(type)) throw hidden(req);
    const owner = await deps.owners.findByName(String(req.params.owner));
    if (!owner) throw hidden(req);
    const guard = access.forType(type);
    // Read first, so that a caller who may not read gets the same answer as for a missing
    // version; only a reader learns that writing is refused (403).
    await guard.check(actor, owner, 'read');
    if (mode === 'write') await guard.check(actor, owner, 'write');
    const found = await versions.find(owner, type, name, version);
    if (!found) throw new NotFoundError('package version not found');
    return { owner, found };
  }

  const viewerOf = (req: Request): User | null => access.actor(req).user;

  /** Finds creators, each once per request (a page's versions mostly share a few). */
  const creatorLookup = () => {
    const seen = new Map<number, Promise<Owner | null>>();
    return (id: number) => seen.get(id) ?? seen.set(id, deps.owners.findById(id)).get(id)!;
  };

  async function toApiPackage(owner: Owner, found: FoundVersion, viewer: User | null, creatorOf = creatorLookup()) {
    const creator = found.version.creatorId === null ? null : await creatorOf(found.version.creatorId);
    const { package: pkg, version } = found;
    return {
      id: version.id,
      owner: toApiUser(owner, { viewer, baseUrl }),
      repository: null,
      creator: creator ? toApiUser(creator, { viewer, baseUrl }) : ghostApiUser(baseUrl),
      type: pkg.type,
      name: pkg.name,
      version: version.version,
      html_url: `${baseUrl}/${encodeURIComponent(owner.name)}/-/packages/${pkg.type}/${encodeURIComponent(pkg.name)}/${encodeURIComponent(version.version)}`,
      created_at: version.createdAt.toISOString(),
    };
  }

  router.get('/api/v1/packages/:owner', async (req, res) => {
    const owner = await ownerFor(req);
    const actor = access.actor(req);
    const readable = [];
    for (const type of deps.types) if (await access.canReadType(actor, owner, type)) readable.push(type);
    const page = pageOf(req);
    const type = typeof req.query.type === 'string' ? req.query.type.trim() : '';
    const { items, total } = await registry.searchVersions({
      ownerId: owner.id,
      type: type || undefined,
      types: readable,
      query: typeof req.query.q === 'string' ? req.query.q.trim() : undefined,
      offset: page.offset,
      limit: page.limit,
    });
    setPageHeaders(req, res, baseUrl, page, total);
    const viewer = viewerOf(req);
    const creatorOf = creatorLookup();
    res.json(await Promise.all(items.map((item) => toApiPackage(owner, item, viewer, creatorOf))));
  });

  /** The owner and type of a package route, after the read check on that type. */
  async function packageOwner(req: Request): Promise<Owner> {
    const type = String(req.params.type);
    if (!deps.types.includes(type)) throw hidden(req);
    const owner = await deps.owners.findByName(String(req.params.owner));
    if (!owner) throw hidden(req);
    await access.forType(type).check(access.actor(req), owner, 'read');
    return owner;
  }

  // Gitea 1.24: the versions of one package, newest first, paged like the list.
  router.get('/api/v1/packages/:owner/:type/:name', async (req, res) => {
    const owner = await packageOwner(req);
    const type = String(req.params.type);
    const page = pageOf(req);
    const { items, total } = await registry.searchVersions({ ownerId: owner.id, type, name: String(req.params.name), offset: page.offset, limit: page.limit });
    if (total === 0) throw new NotFoundError('package not found');
    setPageHeaders(req, res, baseUrl, page, total);
    const viewer = viewerOf(req);
    const creatorOf = creatorLookup();
    res.json(await Promise.all(items.map((item) => toApiPackage(owner, item, viewer, creatorOf))));
  });

  // Gitea 1.24: the newest version of one package.
  router.get('/api/v1/packages/:owner/:type/:name/-/latest', async (req, res) => {
    const owner = await packageOwner(req);
    const { items } = await registry.searchVersions({ ownerId: owner.id, type: String(req.params.type), name: String(req.params.name), limit: 1 });
    if (items.length === 0) throw new NotFoundError('package not found');
    res.json(await toApiPackage(owner, items[0]!, viewerOf(req)));
  });

  router.get('/api/v1/packages/:owner/:type/:name/:version', async (req, res) => {
    const { owner, found } = await versionFor(req, 'read');
    res.json(await toApiPackage(owner, found, viewerOf(req)));
  });

  router.get('/api/v1/packages/:owner/:type/:name/:version/files', async (req, res) => {
    const { found } = await versionFor(req, 'read');
    res.json((await registry.listFiles(found.version.id)).map(toApiFile));
  });

  router.delete('/api/v1/packages/:owner/:type/:name/:version', async (req, res) => {
    const { owner, found } = await versionFor(req, 'write');
    const recursive = ['1', 'true', 'yes'].includes(String(req.query.recursive ?? '').toLowerCase());
    await versions.delete(owner, found, { recursive });
    res.status(204).end();
  });

  return router;
}

/**
 * Gitea's `PackageFile`, whose size field is spelled `Size` (so its clients read it). md5,
 * sha1 and sha512 are there when the upload computed them (generic packages); the Nix
 * cache's files have their sha256 only, and the others are empty (docs/api.md).
 */
function toApiFile(file: FileRecord) {
  const d = file.digests;
  return { id: file.id, Size: file.size, name: file.name, md5: d?.md5 ?? '', sha1: d?.sha1 ?? '', sha256: file.sha256.trim(), sha512: d?.sha512 ?? '' };
}
