import type { Request } from 'express';
import { NotFoundError, type Actor, type Owner, type UiHelpers, type UiPageContext } from '@forge/core';
import { NIX } from '../constants.js';
import { isStorePathHash, type NarListing } from '../format/index.js';
import { listingKey, narKey } from '../http/nar-files.js';
import type { NixServices } from '../services.js';
import type { CacheSettings } from '../store/caches.js';
import type { StorePathRecord } from '../store/store-paths.js';
import { loadListing } from './nar-read.js';

export interface CachePage {
  page: UiPageContext;
  settings: CacheSettings;
}

export interface PathPage extends CachePage {
  path: StorePathRecord;
}

/**
 * What every Nix page shares: the cache's visibility (which may differ from the owner's),
 * addresses, and lookups that answer 404 for anything the viewer may not see.
 */
export class NixUi {
  constructor(readonly nix: NixServices) {}

  /** Whether `actor` may read `owner`'s cache (for tabs and the host's version pages). */
  async canRead(actor: Actor, owner: Owner): Promise<boolean> {
    return this.nix.ctx.access.can(actor, owner, 'read');
  }

  cacheUrl(owner: Owner): string {
    return `/${encodeURIComponent(owner.name)}/-/packages/nix/-/cache`;
  }

  pathsUrl(owner: Owner): string {
    return `${this.cacheUrl(owner)}/paths`;
  }

  pathUrl(owner: Owner, hashPart: string): string {
    return `${this.pathsUrl(owner)}/${hashPart}`;
  }

  settingsUrl(owner: Owner): string {
    return `/${encodeURIComponent(owner.name)}/-/settings/packages#panel-nix`;
  }

  /** The substituter URL (the public base URL: what clients are configured with). */
  substituter(owner: Owner): string {
    return `${this.nix.ctx.host.baseUrl}/api/packages/${encodeURIComponent(owner.name)}/nix`;
  }

  /** The page context of a cache the viewer may read: 404 when they may not, or when there is no cache. */
  async cache(ui: UiHelpers, req: Request): Promise<CachePage> {
    const page = await ui.context(req);
    const settings = await this.nix.caches.get(page.owner.id);
    if (!settings) throw new NotFoundError();
    return { page, settings };
  }

  /** A store path page: `:hash` is a hash part (or `<hash>-<name>`, as pasted from a store path). */
  async path(ui: UiHelpers, req: Request): Promise<PathPage> {
    const param = String(req.params.hash ?? '');
    const hashPart = param.slice(0, 32);
    if (!isStorePathHash(hashPart) || (param.length > 32 && param[32] !== '-')) throw new NotFoundError();
    const cache = await this.cache(ui, req);
    const path = await this.nix.storePaths.byHash(cache.page.owner.id, hashPart);
    if (!path) throw new NotFoundError();
    return { ...cache, path };
  }

  /** The owner's copy of a path's NAR (its blob and compression). */
  async nar(path: StorePathRecord) {
    const file = await this.nix.ctx.registry.getOwnerFile(path.ownerId, NIX, narKey(path.url.slice('nar/'.length)));
    if (!file) return null;
    return { file, compression: String(file.properties.compression ?? path.compression) };
  }

  /** The listing the server computed from the path's NAR, or null (none stored). */
  async listing(path: StorePathRecord): Promise<NarListing | null> {
    const file = await this.nix.ctx.registry.getOwnerFile(path.ownerId, NIX, listingKey(path.url.slice('nar/'.length)));
    return file ? loadListing(this.nix.ctx.registry, file) : null;
  }

  /** The build log uploaded for the path's deriver, if any. */
  async log(path: StorePathRecord) {
    if (!path.deriver) return null;
    return this.nix.ctx.registry.getOwnerFile(path.ownerId, NIX, `log/${path.deriver}`);
  }
}
