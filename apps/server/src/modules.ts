import type { PackageTypeModule } from '@forge/core';
import { genericModule } from '@forge/module-generic';
import { nixModule } from '@forge/module-nix';

/**
 * The package types this server offers. Adding a type is one line here plus its own
 * folder under packages/modules/; nothing else in the host changes.
 */
export function defaultModules(): PackageTypeModule[] {
  return [
    genericModule(),
    nixModule(),
  ];
}
