import type { PackageTypeModule } from '@forge/core';
import type { ForgeConfig } from './config.js';
import { genericModule } from '@forge/module-generic';
import { nixModule } from '@forge/module-nix';

/**
 * The package types this server offers. Adding a type is one line here plus its own
 * folder under packages/modules/; nothing else in the host changes.
 */
export function defaultModules(config?: Pick<ForgeConfig, 'upstreamAllow' | 'upstreamTimeoutMs'>): PackageTypeModule[] {
  return [
    genericModule(),
    nixModule(config && { upstreams: { allow: config.upstreamAllow, limits: { timeoutMs: config.upstreamTimeoutMs } } }),
  ];
}
