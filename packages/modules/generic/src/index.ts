import { MODULE_API_VERSION, type PackageTypeModule } from '@forge/core';
import { GENERIC, registerRoutes } from './routes.js';
import { genericVersionView } from './ui/version-view.js';

export interface GenericModuleOptions {}

/** Gitea-compatible generic packages: any files under a name and a version. */
export function genericModule(_options: GenericModuleOptions = {}): PackageTypeModule {
  return {
    id: GENERIC,
    apiVersion: MODULE_API_VERSION,
    displayName: 'Generic',
    register(ctx) {
      registerRoutes(ctx);
      ctx.ui.versionView(genericVersionView(ctx.host));
    },
  };
}
