import { NotFoundError, type Owner, type Visibility } from '@forge/core';
import type { CacheSettings, CacheSettingsStore } from '../store/caches.js';

/** An owner's enabled cache, as a reader sees it. */
export interface CacheContext {
  owner: Owner;
  settings: CacheSettings;
  /** Who may read it: see {@link cacheVisibility}. */
  visibility: Visibility;
}

/**
 * The visibility readers of a cache are held to: the cache's own, or the owner's when it
 * inherits (and while there is no cache). The one place this is decided: the module
 * declares it to the host (so the access guard, the UI and the package lists apply it),
 * and pages, the settings API and Cache-Control read it from here.
 */
export function cacheVisibility(owner: Owner, settings: CacheSettings | null): Visibility {
  if (!settings || settings.visibility === 'inherit') return owner.visibility;
  return settings.visibility;
}

/**
 * The cache's rules beyond the host's permissions (which the access guard checks): a cache
 * exists once enabled, and before that every read of it looks like any missing file;
 * writers enable it by a successful upload, as with every package type a registry user
 * already knows, so a refused upload leaves no trace, not even an enabled cache.
 */
export class CacheAccess {
  constructor(private readonly settings: CacheSettingsStore) {}

  /** The rule the module declares to the host (`ModuleContext.setVisibility`). */
  readonly visibility = async (owner: Owner): Promise<Visibility> => cacheVisibility(owner, await this.settings.get(owner.id));

  /** The cache of an owner the caller may read: 404 when it is not enabled. */
  async opened(owner: Owner): Promise<CacheContext> {
    const settings = await this.settings.get(owner.id);
    if (!settings) throw new NotFoundError(`${owner.name} has no Nix cache yet: push to it or enable it in the package settings`);
    return { owner, settings, visibility: cacheVisibility(owner, settings) };
  }

  /** The cache's settings, or null while it is not enabled, with its visibility either way. */
  async describe(owner: Owner): Promise<{ settings: CacheSettings | null; visibility: Visibility }> {
    const settings = await this.settings.get(owner.id);
    return { settings, visibility: cacheVisibility(owner, settings) };
  }

  /** Enables the owner's cache if it is not yet (after a successful upload). */
  async enableAfterUpload(owner: Owner): Promise<void> {
    if (await this.settings.get(owner.id)) return;
    await this.settings.enable(owner.id);
  }
}
