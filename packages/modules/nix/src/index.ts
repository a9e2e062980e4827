import { MODULE_API_VERSION, type PackageTypeModule } from '@forge/core';
import { NIX } from './constants.js';
import { registerHttpRoutes } from './http/routes.js';
import { NixSchema1732406500000 } from './migrations/1732406500000-nix-schema.js';
import { createNixServices } from './services.js';
import { CacheSettingsStore } from './store/caches.js';
import { registerNixUi } from './ui/index.js';

export interface NixModuleOptions {}

/** The Nix binary cache package type: one cache per owner at /api/packages/{owner}/nix. */
export function nixModule(_options: NixModuleOptions = {}): PackageTypeModule {
  return {
    id: NIX,
    apiVersion: MODULE_API_VERSION,
    displayName: 'Nix',
    migrations: [NixSchema1732406500000],
    register(ctx) {
      const nix = createNixServices(ctx);
      // The host's package lists and pages follow the cache's visibility, not only the owner's.
      ctx.setVisibility(async (owner) => CacheSettingsStore.effectiveVisibility(owner, await nix.caches.get(owner.id)));
      registerHttpRoutes(nix);
      registerNixUi(nix);
    },
  };
}

export * as format from './format/index.js';
