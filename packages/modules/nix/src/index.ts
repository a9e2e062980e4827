import { MODULE_API_VERSION, type PackageTypeModule } from '@forge/core';
import { NIX } from './constants.js';
import { defaultZstdDecoder } from './format/decompress.js';
import { createNixCache, type NixCacheOptions } from './cache/index.js';
import { collectionTask } from './cache/collection-task.js';
import { nixApiDoc } from './http/api-doc.js';
import { registerHttpRoutes } from './http/routes.js';
import { NixSchema1732406500000 } from './migrations/1732406500000-nix-schema.js';
import { NixLifecycle1796200000000 } from './migrations/1796200000000-nix-lifecycle.js';
import { NixUpstreams1796300000000 } from './migrations/1796300000000-nix-upstreams.js';
import { registerNixUi } from './ui/index.js';

/** Limits of the cache (each has a default; docs/security.md lists them). */
export interface NixModuleOptions extends NixCacheOptions {}

/** The Nix binary cache package type: one cache per owner at /api/packages/{owner}/nix. */
export function nixModule(options: NixModuleOptions = {}): PackageTypeModule {
  return {
    id: NIX,
    apiVersion: MODULE_API_VERSION,
    displayName: 'Nix',
    migrations: [NixSchema1732406500000, NixLifecycle1796200000000, NixUpstreams1796300000000],
    register(ctx) {
      const nix = createNixCache(ctx, options);
      // Who reads a cache is the cache's own visibility: the host applies it to this module's
      // access guard and pages, and to its package lists.
      ctx.setVisibility(nix.access.visibility);
      ctx.versionHooks(nix.versionHooks);
      ctx.describeApi(nixApiDoc);
      registerHttpRoutes(ctx, nix);
      ctx.registerCleanupTask(collectionTask(nix));
      registerNixUi(ctx, nix);
    },
    // xz/lzip (liblzma in WASM), bzip2 (seek-bzip), gzip/brotli (node:zlib) have no alternative.
    describeRuntime: () => ({ zstd: defaultZstdDecoder }),
  };
}

export * as format from './format/index.js';
