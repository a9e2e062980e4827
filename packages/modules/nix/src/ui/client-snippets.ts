import { netrcLine, shellQuote } from '@forge/core';
import { nixString } from './format.js';

/**
 * The one source of the Nix client snippets: the cache page prints them, the dashboard's
 * netrc line is the same `netrcLine`, and docs/nix-cache.md shows them for
 * `https://forge.example/api/packages/alice/nix` (a unit test renders them and finds each
 * one there, verbatim). The choices, once:
 * - `nix.conf` takes `extra-substituters` / `extra-trusted-public-keys`: they add to the
 *   defaults, so cache.nixos.org stays (plain `substituters` would replace it);
 * - NixOS takes `substituters` / `trusted-public-keys`: the module merges them with its
 *   defaults, which keep cache.nixos.org;
 * - `netrc-file` appears only for a private cache, where reading needs the token; it is
 *   Nix's default path anyway, and pushing to any cache uses the same file;
 * - the netrc line has a login (see `netrcLine`).
 */
export const NETRC_FILE = '/etc/nix/netrc';

export interface NixClientSnippets {
  substituter: string;
  publicKeys: string;
  nixConf: string;
  nixos: string;
  netrc: string;
  push: string;
}

export function nixClientSnippets(input: { substituter: string; publicKeys: string[]; private: boolean; login?: string | null }): NixClientSnippets {
  const { substituter, publicKeys } = input;
  return {
    substituter,
    publicKeys: publicKeys.join(' '),
    nixConf: [
      `extra-substituters = ${substituter}`,
      `extra-trusted-public-keys = ${publicKeys.join(' ')}`,
      ...(input.private ? [`netrc-file = ${NETRC_FILE}`] : []),
    ].join('\n'),
    nixos: [
      'nix.settings = {',
      `  substituters = [ ${nixString(substituter)} ];`,
      '  trusted-public-keys = [',
      ...publicKeys.map((k) => `    ${nixString(k)}`),
      '  ];',
      ...(input.private ? [`  netrc-file = ${nixString(NETRC_FILE)};`] : []),
      '};',
    ].join('\n'),
    netrc: netrcLine(substituter, input.login),
    push: pushCommand(substituter),
  };
}

/** `nix copy` of a build result to the cache (also on the page of a cache not enabled yet). */
export function pushCommand(substituter: string): string {
  return `nix copy --to ${shellQuote(substituter)} ./result`;
}
