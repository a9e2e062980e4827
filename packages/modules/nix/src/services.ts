import type { ModuleContext } from '@forge/core';
import { CacheAccess } from './http/cache-access.js';
import { CacheKeys } from './signing/cache-keys.js';
import { AccessRecorder } from './store/access-recorder.js';
import { CacheSettingsStore } from './store/caches.js';
import { NixChanges } from './store/changes.js';
import { NarFileMemo } from './store/nar-file-memo.js';
import { NarInfoCache } from './store/narinfo-cache.js';
import { StorePaths } from './store/store-paths.js';
import { TrustedKeys } from './store/trusted-keys.js';

/** The Nix module's own services, built once from the host's context. */
export interface NixServices {
  ctx: ModuleContext;
  changes: NixChanges;
  caches: CacheSettingsStore;
  cache: CacheAccess;
  storePaths: StorePaths;
  keys: CacheKeys;
  trustedKeys: TrustedKeys;
  narinfos: NarInfoCache;
  narFiles: NarFileMemo;
  accesses: AccessRecorder;
}

export function createNixServices(ctx: ModuleContext): NixServices {
  const changes = new NixChanges(ctx.events, ctx.logger);
  const ownerChanged = (ownerId: number) => changes.owner(ownerId);
  const caches = new CacheSettingsStore(ctx.db, ownerChanged);
  const keys = new CacheKeys(ctx.keys, ctx.host.hostName, ownerChanged);
  const trustedKeys = new TrustedKeys(ctx.db, ownerChanged);
  const narinfos = new NarInfoCache();
  const narFiles = new NarFileMemo();
  const accesses = new AccessRecorder(ctx.db, ctx.logger);
  ctx.onShutdown(() => accesses.flush());

  // Every memo forgets what a change notice (from this process or another) says changed.
  changes.onOwner((ownerId) => {
    caches.forget(ownerId);
    keys.forget(ownerId);
    trustedKeys.forget(ownerId);
    narinfos.invalidateOwner(ownerId);
  });
  changes.onPath((ownerId, hashPart) => narinfos.invalidate(ownerId, hashPart));
  changes.onNar((ownerId, fileName) => narFiles.forget(ownerId, fileName));
  changes.onReset(() => {
    caches.clear();
    keys.clear();
    trustedKeys.clear();
    narinfos.clear();
    narFiles.clear();
  });

  return {
    ctx,
    changes,
    caches,
    cache: new CacheAccess(ctx.access, caches),
    storePaths: new StorePaths(ctx.db),
    keys,
    trustedKeys,
    narinfos,
    narFiles,
    accesses,
  };
}
