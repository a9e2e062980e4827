import type { ModuleContext } from '@forge/core';
import { CacheAccess } from './http/cache-access.js';
import { CacheKeys } from './signing/cache-keys.js';
import { AccessRecorder } from './store/access-recorder.js';
import { CacheSettingsStore } from './store/caches.js';
import { NarInfoCache } from './store/narinfo-cache.js';
import { StorePaths } from './store/store-paths.js';
import { TrustedKeys } from './store/trusted-keys.js';

/** The Nix module's own services, built once from the host's context. */
export interface NixServices {
  ctx: ModuleContext;
  caches: CacheSettingsStore;
  cache: CacheAccess;
  storePaths: StorePaths;
  keys: CacheKeys;
  trustedKeys: TrustedKeys;
  narinfos: NarInfoCache;
  accesses: AccessRecorder;
}

export function createNixServices(ctx: ModuleContext): NixServices {
  const caches = new CacheSettingsStore(ctx.db);
  const accesses = new AccessRecorder(ctx.db, ctx.logger);
  ctx.onShutdown(() => accesses.flush());
  return {
    ctx,
    caches,
    cache: new CacheAccess(ctx.access, caches),
    storePaths: new StorePaths(ctx.db),
    keys: new CacheKeys(ctx.keys, ctx.host.hostName),
    trustedKeys: new TrustedKeys(ctx.db),
    narinfos: new NarInfoCache(),
    accesses,
  };
}
