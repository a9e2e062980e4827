/**
 * Store paths from content addresses (issue 16, item 13): vectors from the real Nix 2.8
 * (`test/fixtures/generate-content-addressed.sh`): `nix-store --add` (fixed:r:sha256),
 * `--add-fixed` flat with every hash, `--add-fixed --recursive` sha1/sha512,
 * `builtins.toFile` with and without a reference, and a content-addressed derivation
 * output that refers to itself and to another path; plus the narinfos of the fixture caches.
 */
import { describe, expect, it } from 'vitest';
import {
  ContentAddressError,
  assertContentAddressMatches,
  formatContentAddress,
  parseContentAddress,
  parseHash,
  parseNarInfo,
  parseStorePath,
  storePathFromContentAddress,
  type ContentAddressedPath,
} from '../../../src/format/index.js';
import { CACHE_COMPRESSIONS, cacheFiles, fixtureText } from './fixtures.js';

interface Vector {
  path: string;
  ca: string;
  references: string[];
  narHash: string;
}
const vectors = JSON.parse(fixtureText('content-addressed.json')) as Vector[];

function pathInfo(v: Vector): ContentAddressedPath {
  return {
    storePath: parseStorePath(v.path),
    ca: parseContentAddress(v.ca),
    references: v.references.map((r) => parseStorePath(r)),
    narHash: parseHash(v.narHash),
  };
}

describe('storePathFromContentAddress', () => {
  it('has vectors for every kind of content address Nix 2.8 writes', () => {
    const kinds = new Set(vectors.map((v) => v.ca.split(':').slice(0, -1).join(':')));
    expect([...kinds].sort()).toEqual(['fixed:md5', 'fixed:r:sha1', 'fixed:r:sha256', 'fixed:r:sha512', 'fixed:sha1', 'fixed:sha256', 'fixed:sha512', 'text:sha256']);
    expect(vectors.some((v) => v.ca.startsWith('text:') && v.references.length > 0)).toBe(true);
    expect(vectors.some((v) => v.references.includes(v.path))).toBe(true);
  });

  it.each(vectors.map((v) => [v.path.slice(44), v.ca.split(':').slice(0, -1).join(':'), v] as const))('%s (%s): derives the path Nix made', (_name, _kind, v) => {
    const info = pathInfo(v);
    const self = info.storePath.baseName;
    const others = info.references.filter((r) => r.baseName !== self);
    const derived = storePathFromContentAddress(info.ca!, info.storePath.name, others, others.length < info.references.length);
    expect(derived.baseName).toBe(self);
    expect(() => assertContentAddressMatches(info)).not.toThrow();
  });

  it.each(CACHE_COMPRESSIONS.flatMap((c) => cacheFiles(c, '.narinfo')).filter((f) => fixtureText(f).includes('\nCA: ')))(
    'accepts the CA of %s as Nix wrote it',
    (file) => {
      expect(() => assertContentAddressMatches(parseNarInfo(fixtureText(file)))).not.toThrow();
    },
  );
});

describe('assertContentAddressMatches refuses', () => {
  const byKind = (prefix: string, withRefs = false): Vector =>
    vectors.find((v) => v.ca.startsWith(prefix) && (v.references.length > 0) === withRefs && !v.references.includes(v.path))!;

  it('the issue\'s case: fixed:r:sha256 of the NarHash on a path that does not follow from it', () => {
    const source = pathInfo(byKind('fixed:r:sha256:'));
    const other = pathInfo(byKind('fixed:sha256:'));
    const forged = { ...other, ca: { method: 'nar' as const, hash: other.narHash } };
    expect(() => assertContentAddressMatches(forged)).toThrow(ContentAddressError);
    // Nix derives the path of `nix-store --add-fixed --recursive sha256 flat.txt` from it.
    const derived = vectors.find((v) => v.ca === formatContentAddress(forged.ca))!;
    expect(() => assertContentAddressMatches(forged)).toThrow(
      `CA ${formatContentAddress(forged.ca)} does not match StorePath: with this name and these references Nix derives ${derived.path}, not /nix/store/${other.storePath.baseName}`,
    );
    expect(() => assertContentAddressMatches(source)).not.toThrow();
  });

  it('a fixed:r:sha256 content address that is not the NarHash', () => {
    const source = pathInfo(byKind('fixed:r:sha256:'));
    const wrongNar = { ...source, narHash: pathInfo(byKind('fixed:sha256:')).narHash };
    expect(() => assertContentAddressMatches(wrongNar)).toThrow(/does not match NarHash sha256:\S+: a fixed:r:sha256 content address is the hash of the NAR/);
  });

  it('the right CA with a reference added or removed, or another name', () => {
    const text = pathInfo(byKind('text:', true));
    expect(() => assertContentAddressMatches({ ...text, references: [] })).toThrow(/does not match StorePath/);
    const source = pathInfo(byKind('fixed:r:sha256:'));
    expect(() => assertContentAddressMatches({ ...source, references: text.references })).toThrow(/does not match StorePath/);
    expect(() => assertContentAddressMatches({ ...source, references: [source.storePath] })).toThrow(/does not match StorePath/);
    const renamed = parseStorePath(`/nix/store/${source.storePath.hashPart}-renamed`);
    expect(() => assertContentAddressMatches({ ...source, storePath: renamed })).toThrow(/does not match StorePath/);
  });

  it('references on a path whose content address cannot have any', () => {
    const flat = pathInfo(byKind('fixed:sha1:'));
    const refs = pathInfo(byKind('text:', true)).references;
    expect(() => assertContentAddressMatches({ ...flat, references: refs })).toThrow(/content address 'fixed:sha1:\S+' cannot have references/);
    const text = pathInfo(byKind('text:'));
    expect(() => assertContentAddressMatches({ ...text, references: [text.storePath] })).toThrow(/a text content address cannot refer to its own path/);
  });

  it('nothing when there is no CA', () => {
    const { ca: _ca, ...plain } = pathInfo(byKind('fixed:sha1:'));
    expect(() => assertContentAddressMatches(plain)).not.toThrow();
  });

  it('keeps the message readable', () => {
    expect(formatContentAddress(parseContentAddress(byKind('fixed:md5:').ca))).toBe(byKind('fixed:md5:').ca);
  });
});
