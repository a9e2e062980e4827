import type { Visibility } from '@forge/core';

/**
 * NARs are immutable (named by their hash) and narinfos change only by re-upload or
 * deletion; shared caches (CDNs, proxies) may keep public ones, never private ones.
 */
export function cacheControl(visibility: Visibility, maxAge: number): string {
  return visibility === 'public' ? `public, max-age=${maxAge}` : `private, max-age=${maxAge}`;
}
