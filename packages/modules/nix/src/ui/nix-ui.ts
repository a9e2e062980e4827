import type { Request } from 'express';
import { NotFoundError, type Actor, type ModuleContext, type Owner, type UiHelpers, type UiPageContext, type Visibility } from '@forge/core';
import type { CacheSettings, NixCache, StorePathRecord } from '../cache/index.js';
import { isStorePathHash } from '../format/index.js';

export interface CachePage {
  page: UiPageContext;
  settings: CacheSettings;
  visibility: Visibility;
}

export interface PathPage extends CachePage {
  path: StorePathRecord;
}

/**
 * What every Nix page shares: addresses, and lookups that answer 404 for anything the
 * viewer may not see (the UI helpers apply the cache's visibility, which may differ from
 * the owner's).
 */
export class NixUi {
  constructor(
    readonly ctx: ModuleContext,
    readonly nix: NixCache,
  ) {}

  /** Whether `actor` may read `owner`'s cache (for tabs and the host's version pages). */
  async canRead(actor: Actor, owner: Owner): Promise<boolean> {
    return this.ctx.access.can(actor, owner, 'read');
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

  /** The page context of a cache the viewer may read: 404 when they may not, or when there is no cache. */
  async cache(ui: UiHelpers, req: Request): Promise<CachePage> {
    const page = await ui.context(req);
    const { settings, visibility } = await this.nix.access.describe(page.owner);
    if (!settings) throw new NotFoundError();
    return { page, settings, visibility };
  }

  /** A store path page: `:hash` is a hash part (or `<hash>-<name>`, as pasted from a store path). */
  async path(ui: UiHelpers, req: Request): Promise<PathPage> {
    const param = String(req.params.hash ?? '');
    const hashPart = param.slice(0, 32);
    if (!isStorePathHash(hashPart) || (param.length > 32 && param[32] !== '-')) throw new NotFoundError();
    const cache = await this.cache(ui, req);
    const path = await this.nix.paths.byHash(cache.page.owner.id, hashPart);
    if (!path) throw new NotFoundError();
    return { ...cache, path };
  }
}
