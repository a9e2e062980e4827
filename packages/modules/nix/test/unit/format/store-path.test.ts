import { describe, expect, it } from 'vitest';
import {
  StorePathError,
  formatStorePath,
  isDerivation,
  isStorePathHash,
  parseDrvName,
  parseStorePath,
  parseStorePathBaseName,
  parseStorePathHash,
} from '../../../src/format/index.js';
import { fixtureText, paths } from './fixtures.js';

const HASH = 'v0haxhyk6qn6fs0pz57kd9rpk61qr9v3';

describe('store paths', () => {
  it('parses the paths Nix 2.8 made', () => {
    for (const full of Object.values(paths)) {
      const p = parseStorePath(full);
      expect(formatStorePath(p)).toBe(full);
      expect(p.baseName).toBe(full.slice('/nix/store/'.length));
    }
    const ref = parseStorePath(paths.ref);
    expect(ref).toEqual({ hashPart: HASH, name: 'ref+user=x-1.0', baseName: `${HASH}-ref+user=x-1.0` });
    expect(isDerivation(parseStorePath(paths.drv))).toBe(true);
    expect(isDerivation(ref)).toBe(false);
  });

  it('accepts names up to 211 characters of the allowed set', () => {
    expect(parseStorePathBaseName(`${HASH}-${'a'.repeat(211)}`).name).toHaveLength(211);
    expect(parseStorePathBaseName(`${HASH}-Aa0+-._?=`).name).toBe('Aa0+-._?=');
    expect(parseStorePathBaseName(`${HASH}-.foo`).name).toBe('.foo');
    expect(parseStorePathBaseName(`${HASH}-..foo`).name).toBe('..foo');
    expect(parseStorePathBaseName(`${HASH}-foo-.`).name).toBe('foo-.');
  });

  it.each([
    [`${HASH}-${'a'.repeat(212)}`, /212 characters long, more than 211/],
    [`${HASH}-`, /the name is empty/],
    [`${HASH}-a b`, /illegal character " "/],
    [`${HASH}-a/b`, /illegal character "\/"/],
    [`${HASH}-é`, /illegal character "é"/],
    [`${HASH}-.`, /the name '.' is not allowed/],
    [`${HASH}-..`, /the name '..' is not allowed/],
    [`${HASH}-.-foo`, /first dash-separated component must not be '.'/],
    [`${HASH}-..-foo`, /first dash-separated component must not be '..'/],
    [`${HASH}_foo`, /not followed by '-'/],
    [`${HASH.slice(0, 31)}e-foo`, /'e' is not a Nix32 character/],
    [`${HASH.toUpperCase()}-foo`, /invalid hash part/],
    ['short', /too short/],
  ])('rejects base name %s', (baseName, message) => {
    expect(() => parseStorePathBaseName(baseName)).toThrow(StorePathError);
    expect(() => parseStorePathBaseName(baseName)).toThrow(message);
  });

  it.each([
    [`/gnu/store/${HASH}-foo`, /not in the Nix store/],
    [`/nix/store//${HASH}-foo`, /not a canonical store path/],
    ['/nix/store/', /not a canonical store path/],
    [`/nix/store/${HASH}-foo/`, /names something inside/],
    [`/nix/store/${HASH}-foo/bin/sh`, /names something inside/],
    [`${HASH}-foo`, /not in the Nix store/],
  ])('rejects full path %s', (path, message) => {
    expect(() => parseStorePath(path)).toThrow(message);
  });

  it('honours another store directory', () => {
    expect(parseStorePath(`/gnu/store/${HASH}-foo`, '/gnu/store').name).toBe('foo');
  });

  it('validates hash parts from URLs', () => {
    expect(parseStorePathHash(HASH)).toBe(HASH);
    expect(isStorePathHash(`${HASH}x`)).toBe(false);
    expect(() => parseStorePathHash('abc')).toThrow(/expected 32 characters, got 3/);
    expect(() => parseStorePathHash(`${HASH.slice(0, 31)}u`)).toThrow(/'u' is not a Nix32 character/);
  });
});

describe('parseDrvName', () => {
  const vectors = JSON.parse(fixtureText('parse-drv-name.json')) as Array<{ input: string; result: { name: string; version: string } }>;

  it.each(vectors.map((v) => [v.input, v.result] as const))('splits %j like builtins.parseDrvName', (input, result) => {
    expect(parseDrvName(input)).toEqual(result);
  });
});
