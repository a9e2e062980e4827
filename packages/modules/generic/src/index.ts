import { MODULE_API_VERSION, type PackageTypeModule } from '@forge/core';
import { genericApiDoc } from './cleanup/api-doc.js';
import { GenericCleanup } from './cleanup/apply-rule.js';
import { GenericCleanupRule1796120000000 } from './cleanup/migration.js';
import { CleanupRuleStore } from './cleanup/rule-store.js';
import { registerCleanupRoutes } from './cleanup/routes.js';
import { GENERIC, registerRoutes } from './routes.js';
import { cleanupPanel } from './ui/cleanup-panel.js';
import { genericVersionView } from './ui/version-view.js';

export interface GenericModuleOptions {}

/** Gitea-compatible generic packages: any files under a name and a version. */
export function genericModule(_options: GenericModuleOptions = {}): PackageTypeModule {
  return {
    id: GENERIC,
    apiVersion: MODULE_API_VERSION,
    displayName: 'Generic',
    migrations: [GenericCleanupRule1796120000000],
    register(ctx) {
      const store = new CleanupRuleStore(ctx.db);
      const cleanup = new GenericCleanup(store, ctx.registry);
      // Before the package routes: /-/… would otherwise read as a package named "-".
      registerCleanupRoutes(ctx, store, cleanup);
      registerRoutes(ctx);
      ctx.registerCleanupTask(cleanup.task());
      ctx.describeApi(genericApiDoc);
      ctx.ui.settingsPanel(cleanupPanel(store, cleanup));
      ctx.ui.versionView(genericVersionView(ctx.host));
    },
  };
}
