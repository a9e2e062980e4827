/**
 * One source for the Nix client snippets: what the cache page prints is what
 * docs/nix-cache.md shows (rendered here for forge.example and found there verbatim), with
 * `extra-` settings in nix.conf, a login in the netrc line and `netrc-file` only for a
 * private cache.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { netrcLine } from '@forge/core';
import { nixClientSnippets } from '../../../src/ui/client-snippets.js';

const doc = readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../../../docs/nix-cache.md'), 'utf8');
const input = { substituter: 'https://forge.example/api/packages/alice/nix', publicKeys: ['forge.example-alice-1:Base64PublicKey…='], login: 'alice' };

describe('the Nix client snippets', () => {
  const pub = nixClientSnippets({ ...input, private: false });
  const priv = nixClientSnippets({ ...input, private: true });

  it('add to the defaults in nix.conf and name the netrc file only for a private cache', () => {
    expect(pub.nixConf).toBe('extra-substituters = https://forge.example/api/packages/alice/nix\nextra-trusted-public-keys = forge.example-alice-1:Base64PublicKey…=');
    expect(priv.nixConf).toBe(`${pub.nixConf}\nnetrc-file = /etc/nix/netrc`);
    expect(pub.nixos).not.toContain('netrc-file');
    expect(priv.nixos).toContain('netrc-file = "/etc/nix/netrc";');
  });

  it('have one netrc line, with a login, on the cache page and the dashboard', () => {
    expect(pub.netrc).toBe('machine forge.example login alice password YOUR_TOKEN');
    expect(netrcLine('https://forge.example:8443', 'alice')).toBe('machine forge.example login alice password YOUR_TOKEN');
    expect(netrcLine('https://forge.example', null)).toBe('machine forge.example login YOUR_USER_NAME password YOUR_TOKEN');
  });

  it('are exactly what docs/nix-cache.md shows', () => {
    for (const [name, text] of Object.entries({ ...pub, privateNixConf: priv.nixConf, privateNixos: priv.nixos })) {
      if (name === 'substituter' || name === 'publicKeys') continue;
      expect(doc, `${name}:\n${text}`).toContain('\n' + text + '\n');
    }
  });
});
