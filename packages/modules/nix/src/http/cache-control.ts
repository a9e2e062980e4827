import type { Owner } from '@forge/core';
import { CacheSettingsStore, type CacheSettings } from '../store/caches.js';

/**
 * NARs are immutable (named by their hash) and narinfos change only by re-upload or
 * deletion; shared caches (CDNs, proxies) may keep public ones, never private ones.
 */
export function cacheControl(owner: Owner, settings: CacheSettings | null, maxAge: number): string {
  const visibility = CacheSettingsStore.effectiveVisibility(owner, settings);
  return visibility === 'public' ? `public, max-age=${maxAge}` : `private, max-age=${maxAge}`;
}
