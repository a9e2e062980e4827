import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HashFormatError, decodeNix32, encodeNix32, isNix32, nix32Length } from '../../../src/format/index.js';
import { hashPath, prng } from './fixtures.js';

describe('Nix32', () => {
  it('matches the protocol reference vectors', () => {
    const empty = createHash('sha256').update('').digest();
    expect(encodeNix32(empty)).toBe('0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73');
    expect(encodeNix32(createHash('sha256').update('hello').digest())).toBe('094qif9n4cq4fdg459qzbhg1c6wywawwaaivx0k0x8xhbyx4vwic');
  });

  it('matches `nix hash path` (base32 vs base16 of the same hash)', () => {
    for (const { nix32, base16 } of hashPath) {
      expect(encodeNix32(Buffer.from(base16, 'hex'))).toBe(nix32);
      expect(Buffer.from(decodeNix32(nix32)).toString('hex')).toBe(base16);
    }
  });

  it('has the lengths Nix uses', () => {
    expect(nix32Length(32)).toBe(52);
    expect(nix32Length(20)).toBe(32);
    expect(nix32Length(64)).toBe(103);
    expect(nix32Length(16)).toBe(26);
  });

  it('round-trips every length', () => {
    const rand = prng(1);
    for (let len = 1; len <= 70; len++) {
      const bytes = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
      const text = encodeNix32(bytes);
      expect(text).toHaveLength(nix32Length(len));
      expect(Buffer.from(decodeNix32(text))).toEqual(Buffer.from(bytes));
    }
  });

  it('rejects characters outside the alphabet', () => {
    const good = '0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73';
    for (const bad of ['e', 'o', 'u', 't', 'A', '-', 'é']) {
      const text = bad + good.slice(1);
      expect(() => decodeNix32(text)).toThrow(HashFormatError);
      expect(() => decodeNix32(text)).toThrow(/is not a Nix32 digit/);
    }
    expect(isNix32(good, 52)).toBe(true);
    expect(isNix32(good.toUpperCase())).toBe(false);
  });

  it('rejects non-zero bits beyond the last byte', () => {
    // 52 digits carry 260 bits for 256: the first digit may only be 0 or 1.
    expect(() => decodeNix32(`1${'0'.repeat(51)}`)).not.toThrow();
    expect(() => decodeNix32(`2${'0'.repeat(51)}`)).toThrow(/bits beyond the last byte/);
    expect(() => decodeNix32(`z${'0'.repeat(51)}`)).toThrow(/bits beyond the last byte/);
  });

  it('rejects lengths no byte string has', () => {
    expect(() => decodeNix32('000')).toThrow(/no byte string encodes to 3 characters/);
    expect(() => decodeNix32('0')).toThrow(/no byte string encodes to 1 characters/);
    expect(decodeNix32('')).toHaveLength(0);
  });
});
