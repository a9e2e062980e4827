import type { Request } from 'express';
import { NotFoundError, type AccessGuard, type AccessMode, type Owner } from '@forge/core';
import type { CacheSettings, CacheSettingsStore } from '../store/caches.js';

export interface CacheContext {
  owner: Owner;
  settings: CacheSettings;
}

/**
 * Access to one owner's cache. The cache's own visibility (public, private, or the
 * owner's) decides who reads; writers enable a cache by pushing to it, as with every
 * package type a registry user already knows.
 */
export class CacheAccess {
  constructor(
    private readonly access: AccessGuard,
    private readonly caches: CacheSettingsStore,
  ) {}

  /** For reads: the cache must exist; a missing one looks like any missing file. */
  async read(req: Request): Promise<CacheContext> {
    const owner = await this.access.require(req, 'read');
    const settings = await this.caches.get(owner.id);
    if (!settings) throw new NotFoundError(`${owner.name} has no Nix cache yet: push to it or enable it in the package settings`);
    return { owner, settings };
  }

  /**
   * For uploads: write access. The cache is enabled by the upload's success
   * (`enable`), so a refused upload leaves no trace, not even an enabled cache.
   */
  async write(req: Request): Promise<{ owner: Owner }> {
    const owner = await this.access.require(req, 'write');
    return { owner };
  }

  /** Enables the owner's cache if it is not yet (after a successful upload). */
  async enable(owner: Owner): Promise<void> {
    if (await this.caches.get(owner.id)) return;
    await this.caches.enable(owner.id);
  }

  /**
   * For settings and keys: the admin role (the owner, organisation admins, site admins;
   * docs/auth.md), and the cache is enabled at once.
   */
  async adminAndEnable(req: Request): Promise<CacheContext & { created: boolean }> {
    const owner = await this.access.require(req, 'admin');
    const { settings, created } = await this.caches.enable(owner.id);
    return { owner, settings, created };
  }

  /** Read access to the owner, whether or not the cache exists (settings pages). */
  async owner(req: Request, mode: AccessMode): Promise<Owner> {
    return this.access.require(req, mode);
  }
}
