import express, { type Express } from 'express';
import { MODULE_API_VERSION, type ModuleContext, type PackageTypeModule } from '@forge/core';
import { setRoutePrefix } from './request-observer.js';

export class ModuleLoadError extends Error {}

const ID_PATTERN = /^[a-z][a-z0-9-]{0,31}$/;

/** Fails fast on anything that would make a module misbehave later (Verdaccio skips bad plugins silently; we refuse to start). */
export function validateModules(modules: readonly PackageTypeModule[]): void {
  const seen = new Set<string>();
  for (const [i, m] of modules.entries()) {
    if (!m || typeof m !== 'object' || typeof m.register !== 'function') {
      throw new ModuleLoadError(`module #${i + 1} is not a package type module (no register function)`);
    }
    if (!ID_PATTERN.test(m.id)) throw new ModuleLoadError(`module id "${m.id}" must match ${ID_PATTERN}`);
    if (seen.has(m.id)) throw new ModuleLoadError(`two modules have the id "${m.id}"`);
    seen.add(m.id);
    if (m.apiVersion !== MODULE_API_VERSION) {
      throw new ModuleLoadError(`module "${m.id}" was built for module API ${m.apiVersion}, this server speaks ${MODULE_API_VERSION}`);
    }
  }
}

/** Mounts each module's router at /api/packages/:owner/<id> and lets it register. */
export async function registerModules(
  app: Express,
  modules: readonly PackageTypeModule[],
  contextFor: (module: PackageTypeModule, router: express.Router) => ModuleContext,
): Promise<void> {
  for (const module of modules) {
    // Paths are compared as sent (Nix32 is lowercase; `.NARINFO` is not a narinfo).
    const router = express.Router({ mergeParams: true, strict: true, caseSensitive: true });
    const prefix = `/api/packages/:owner/${module.id}`;
    app.use(prefix, router);
    // Metrics and the access log name the route by its pattern, mount included.
    router.use((req, _res, next) => {
      setRoutePrefix(req, prefix);
      next();
    });
    try {
      await module.register(contextFor(module, router));
    } catch (err) {
      throw new ModuleLoadError(`module "${module.id}" failed to register: ${(err as Error).message}`, { cause: err });
    }
  }
}
