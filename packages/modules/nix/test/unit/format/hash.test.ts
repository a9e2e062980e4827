import { describe, expect, it } from 'vitest';
import {
  HashFormatError,
  formatHash,
  hashesEqual,
  parseHash,
  parseNix32Sha256,
  parseSha256Hash,
  parseUnprefixedHash,
  sha256,
} from '../../../src/format/index.js';
import { hashPath } from './fixtures.js';

describe('hashes', () => {
  const { nix32, base16, sri } = hashPath[0]!;
  const base64 = sri.slice('sha256-'.length);

  it('parses every form Nix accepts for NarHash, to the same digest', () => {
    const forms = [`sha256:${nix32}`, `sha256:${base16}`, `sha256:${base16.toUpperCase()}`, `sha256:${base64}`, sri];
    const parsed = forms.map((f) => parseHash(f));
    for (const h of parsed) {
      expect(h.algorithm).toBe('sha256');
      expect(hashesEqual(h, parsed[0]!)).toBe(true);
    }
    expect(Buffer.from(parsed[0]!.digest).toString('hex')).toBe(base16);
  });

  it('renders as Nix does', () => {
    const h = parseHash(sri);
    expect(formatHash(h)).toBe(`sha256:${nix32}`);
    expect(formatHash(h, 'base16')).toBe(`sha256:${base16}`);
    expect(formatHash(h, 'base64')).toBe(`sha256:${base64}`);
    expect(formatHash(h, 'sri')).toBe(sri);
  });

  it('knows the other algorithms', () => {
    const md5 = parseHash('md5:d41d8cd98f00b204e9800998ecf8427e');
    expect(md5.digest).toHaveLength(16);
    const sha512 = parseHash(`sha512-${Buffer.alloc(64, 1).toString('base64')}`);
    expect(sha512.algorithm).toBe('sha512');
    expect(formatHash(sha512)).toMatch(/^sha512:[0-9a-z]{103}$/);
    expect(parseUnprefixedHash(nix32, 'sha256').digest).toEqual(parseHash(sri).digest);
  });

  it('computes sha256 natively', () => {
    expect(formatHash(sha256(''))).toBe('sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73');
    expect(hashesEqual(sha256('a'), sha256('b'))).toBe(false);
  });

  it.each([
    [nix32, /does not say its algorithm/],
    [`sha3:${nix32}`, /unknown algorithm 'sha3'/],
    [`sha256:${nix32.slice(1)}`, /wrong length for hash type 'sha256'/],
    [`sha256:${'g'.repeat(64)}`, /invalid base-16 hash/],
    [`sha256:e${nix32.slice(1)}`, /invalid base-32 hash/],
    [`sha256:${base64.replace('=', 'A')}`, /invalid base-64 hash/],
    [`sha256-${base64.slice(0, -1)}`, /invalid SRI hash/],
    [`sha256-${Buffer.alloc(31).toString('base64')}`, /invalid SRI hash/],
  ])('rejects %s', (text, message) => {
    expect(() => parseHash(text)).toThrow(HashFormatError);
    expect(() => parseHash(text)).toThrow(message);
  });

  it('insists on sha256 where Nix needs it, and says so', () => {
    expect(() => parseSha256Hash('sha1:0000000000000000000000000000000000000000', 'NarHash')).toThrow(
      'NarHash: must be a sha256 hash (Nix verifies NARs with SHA-256), got sha1',
    );
    expect(parseSha256Hash(`sha256:${nix32}`).algorithm).toBe('sha256');
  });

  it('parses the bare Nix32 digest of a NAR URL', () => {
    expect(formatHash(parseNix32Sha256(nix32))).toBe(`sha256:${nix32}`);
    expect(() => parseNix32Sha256(base16)).toThrow(/expected 52 characters, got 64/);
  });
});
