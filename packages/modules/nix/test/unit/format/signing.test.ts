import { describe, expect, it } from 'vitest';
import {
  SignatureFormatError,
  checkPathSignatures,
  fingerprintPath,
  formatPublicKey,
  formatSecretKey,
  generateSigningKey,
  parseNarInfo,
  parsePublicKey,
  parseSecretKey,
  parseSignature,
  publicKeyOf,
  signFingerprint,
  signPath,
  verifySignature,
} from '../../../src/format/index.js';
import { CACHE_COMPRESSIONS, cacheFiles, fixtureText, paths } from './fixtures.js';

const secret1 = parseSecretKey(fixtureText('keys/test-1.secret'));
const public1 = parsePublicKey(fixtureText('keys/test-1.public'));
const secret2 = parseSecretKey(fixtureText('keys/test-2.secret'));
const public2 = parsePublicKey(fixtureText('keys/test-2.public'));
const refHash = paths.ref.slice(11, 43);

describe('key files made by `nix key generate-secret`', () => {
  it('parse, and re-render byte for byte', () => {
    expect(secret1.name).toBe('test-1');
    expect(secret1.bytes).toHaveLength(64);
    expect(public1.bytes).toHaveLength(32);
    expect(formatSecretKey(secret1)).toBe(fixtureText('keys/test-1.secret'));
    expect(formatPublicKey(public1)).toBe(fixtureText('keys/test-1.public'));
  });

  it('derive the same public key as `nix key convert-secret-to-public`', () => {
    expect(formatPublicKey(publicKeyOf(secret1))).toBe(fixtureText('keys/test-1.public'));
    expect(formatPublicKey(publicKeyOf(secret2))).toBe(fixtureText('keys/test-2.public'));
  });

  it('tolerate a trailing newline', () => {
    expect(parseSecretKey(`${fixtureText('keys/test-1.secret')}\n`)).toEqual(secret1);
  });

  it('reject a secret key whose public half does not match its seed', () => {
    const bytes = Uint8Array.from(secret1.bytes);
    bytes[40]! ^= 1;
    expect(() => parseSecretKey(formatSecretKey({ name: 'test-1', bytes }))).toThrow(/public half does not match its seed/);
  });

  it.each([
    ['no-colon', /is not of the form '<key name>:<base64>'/],
    [':AAAA', /has an empty key name/],
    [`k:${Buffer.alloc(31).toString('base64')}`, /decodes to 31 bytes, expected 32/],
    [`k:${Buffer.alloc(32).toString('base64')}\r`, /is not valid base64/],
  ])('reject public key %j', (text, message) => {
    expect(() => parsePublicKey(text)).toThrow(SignatureFormatError);
    expect(() => parsePublicKey(text)).toThrow(message);
  });
});

describe('signatures made by Nix 2.8', () => {
  const signed = CACHE_COMPRESSIONS.flatMap((c) => cacheFiles(c, '.narinfo'));

  it.each(signed)('%s: every Sig verifies and re-signing reproduces it byte for byte', (file) => {
    const info = parseNarInfo(fixtureText(file));
    const fingerprint = fingerprintPath(info);
    expect(info.sigs.length).toBeGreaterThan(0);
    for (const sig of info.sigs) {
      const key = sig.startsWith('test-1:') ? { secret: secret1, pub: public1 } : { secret: secret2, pub: public2 };
      expect(verifySignature(fingerprint, sig, key.pub)).toBe(true);
      expect(signFingerprint(fingerprint, key.secret)).toBe(sig);
      expect(signPath(info, key.secret)).toBe(sig);
    }
  });

  it('covers exactly the documented fingerprint', () => {
    const info = parseNarInfo(fixtureText(`cache-none/${refHash}.narinfo`));
    expect(fingerprintPath(info)).toBe(
      `1;${paths.ref};sha256:0i29wnxzjkzyqkmajgbrp95z9yj7nm156afpk47ib029xs0gs59i;600;${paths.tree},${paths.ref}`,
    );
    const tree = parseNarInfo(fixtureText(`cache-none/${paths.tree.slice(11, 43)}.narinfo`));
    expect(fingerprintPath(tree)).toMatch(/;103616;$/);
  });

  it('does not cover URL, Compression, FileHash, FileSize or Deriver', () => {
    const xz = parseNarInfo(fixtureText(`cache-xz/${refHash}.narinfo`));
    const none = parseNarInfo(fixtureText(`cache-none/${refHash}.narinfo`));
    expect(fingerprintPath(xz)).toBe(fingerprintPath(none));
  });

  it('is checked per key name, like Nix', () => {
    const info = parseNarInfo(fixtureText(`cache-none/${refHash}.narinfo`));
    expect(checkPathSignatures(info, [public1, public2])).toEqual({ valid: ['test-1', 'test-2'], invalid: [], untrusted: [] });
    expect(checkPathSignatures(info, [public2])).toEqual({ valid: ['test-2'], invalid: [], untrusted: ['test-1'] });
    // A key with a trusted name but other bytes makes that signature invalid.
    expect(checkPathSignatures(info, [{ name: 'test-1', bytes: public2.bytes }])).toEqual({ valid: [], invalid: ['test-1'], untrusted: ['test-2'] });
    const tampered = { ...info, narSize: info.narSize + 1 };
    expect(checkPathSignatures(tampered, [public1, public2]).invalid).toEqual(['test-1', 'test-2']);
  });
});

describe('generated keys', () => {
  it('sign and verify; other keys, names and messages do not verify', () => {
    const key = generateSigningKey('forge.example-alice-1');
    const text = formatSecretKey(key);
    expect(text).toMatch(/^forge\.example-alice-1:[A-Za-z0-9+/]{86}==$/);
    expect(parseSecretKey(text)).toEqual(key);
    const pub = publicKeyOf(key);
    const sig = signFingerprint('1;/nix/store/x;sha256:y;1;', key);
    expect(sig).toMatch(/^forge\.example-alice-1:[A-Za-z0-9+/]{86}==$/);
    expect(verifySignature('1;/nix/store/x;sha256:y;1;', sig, pub)).toBe(true);
    expect(verifySignature('1;/nix/store/x;sha256:y;2;', sig, pub)).toBe(false);
    expect(verifySignature('1;/nix/store/x;sha256:y;1;', sig, publicKeyOf(generateSigningKey('forge.example-alice-1')))).toBe(false);
    expect(verifySignature('1;/nix/store/x;sha256:y;1;', sig, { ...pub, name: 'other' })).toBe(false);
    expect(verifySignature('1;/nix/store/x;sha256:y;1;', parseSignature(sig), pub)).toBe(true);
  });

  it.each(['', 'a:b', 'a b', 'tab\there'])('refuse the key name %j', (name) => {
    expect(() => generateSigningKey(name)).toThrow(/invalid key name/);
  });

  it('reject malformed signatures', () => {
    expect(() => parseSignature('test-1')).toThrow(/is not of the form/);
    expect(() => parseSignature(`test-1:${Buffer.alloc(63).toString('base64')}`)).toThrow(/decodes to 63 bytes, expected 64/);
    expect(() => verifySignature('x', 'garbage', public1)).toThrow(SignatureFormatError);
  });

  it('treat an off-curve public key as verifying nothing', () => {
    const sig = signFingerprint('x', secret1);
    expect(verifySignature('x', sig, { name: 'test-1', bytes: new Uint8Array(32).fill(0xff) })).toBe(false);
  });
});
