import type { ModuleContext } from '@forge/core';
import type { NixCache } from '../cache/index.js';
import { auxFileRoutes } from './aux-files.js';
import { lifecycleApiRoutes } from './lifecycle-api.js';
import { narFileRoutes } from './nar-files.js';
import { narInfoRoutes } from './narinfo.js';
import { settingsApiRoutes } from './settings-api.js';
import { storePathApiRoutes } from './store-path-api.js';
import { upstreamNarRoutes } from './upstream-nars.js';

/** The binary cache protocol at /api/packages/{owner}/nix, plus its administration under /-/. */
export function registerHttpRoutes(ctx: ModuleContext, nix: NixCache): void {
  settingsApiRoutes(ctx, nix);
  lifecycleApiRoutes(ctx, nix);
  storePathApiRoutes(ctx, nix);
  narInfoRoutes(ctx, nix);
  narFileRoutes(ctx, nix);
  auxFileRoutes(ctx, nix);
  upstreamNarRoutes(ctx, nix);
}
