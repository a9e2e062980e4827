import type { NixServices } from '../services.js';
import { auxFileRoutes } from './aux-files.js';
import { narFileRoutes } from './nar-files.js';
import { narInfoRoutes } from './narinfo.js';
import { settingsApiRoutes } from './settings-api.js';

/** The binary cache protocol at /api/packages/{owner}/nix, plus its administration under /-/. */
export function registerHttpRoutes(nix: NixServices): void {
  settingsApiRoutes(nix);
  narInfoRoutes(nix);
  narFileRoutes(nix);
  auxFileRoutes(nix);
}
