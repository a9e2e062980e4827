/**
 * Hashes as Nix writes and reads them: `<algo>:<digest>` with the digest in base16, Nix32
 * or base64 (told apart by length), or SRI `<algo>-<base64>`
 * (`Hash::parseAnyPrefixed`, 2.8.0:src/libutil/hash.cc:175-260). Nix writes `sha256:<nix32>`.
 */
import { createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { HashFormatError } from './errors.js';
import { decodeNix32, encodeNix32, nix32Length } from './nix32.js';

/** The hash algorithms Nix knows (`parseHashType`). */
export type HashAlgorithm = 'md5' | 'sha1' | 'sha256' | 'sha512';

/** A digest together with its algorithm. `digest` has exactly the algorithm's length. */
export interface Hash {
  readonly algorithm: HashAlgorithm;
  readonly digest: Uint8Array;
}

/** How to print a hash. `nix32`, `base16` and `base64` get an `<algo>:` prefix; `sri` is `<algo>-<base64>`. */
export type HashEncoding = 'nix32' | 'base16' | 'base64' | 'sri';

const DIGEST_LENGTH: Record<HashAlgorithm, number> = { md5: 16, sha1: 20, sha256: 32, sha512: 64 };

/** Digest length in bytes of `algorithm`. */
export function hashDigestLength(algorithm: HashAlgorithm): number {
  return DIGEST_LENGTH[algorithm];
}

/** Whether `name` is one of Nix's hash algorithm names. */
export function isHashAlgorithm(name: string): name is HashAlgorithm {
  return Object.hasOwn(DIGEST_LENGTH, name);
}

/**
 * Parses a hash with its algorithm prefix, in any form Nix accepts: `sha256:` followed by
 * 64 hex digits (either case), 52 Nix32 characters or 44 base64 characters, or SRI
 * `sha256-<base64>`. Base64 must be canonical (padded, no stray characters).
 */
export function parseHash(text: string): Hash {
  const colon = text.indexOf(':');
  if (colon >= 0) return parseDigest(text.slice(colon + 1), algorithmOf(text.slice(0, colon), text), false, text);
  const dash = text.indexOf('-');
  if (dash >= 0) return parseDigest(text.slice(dash + 1), algorithmOf(text.slice(0, dash), text), true, text);
  throw new HashFormatError(`hash '${text}' does not say its algorithm (expected e.g. 'sha256:…' or 'sha256-…')`);
}

/**
 * Parses a hash that must be SHA-256, as `NarHash` and `FileHash` must: Nix hashes NARs
 * with SHA-256 when it imports them, so any other algorithm can never verify
 * (2.8.0:src/libstore/local-store.cc:1281-1287). `what` (e.g. `NarHash`) prefixes errors.
 */
export function parseSha256Hash(text: string, what?: string): Hash {
  const prefix = what === undefined ? '' : `${what}: `;
  let hash: Hash;
  try {
    hash = parseHash(text);
  } catch (err) {
    throw new HashFormatError(`${prefix}${(err as Error).message}`);
  }
  if (hash.algorithm !== 'sha256') {
    throw new HashFormatError(`${prefix}must be a sha256 hash (Nix verifies NARs with SHA-256), got ${hash.algorithm}`);
  }
  return hash;
}

/**
 * Parses a digest without prefix whose algorithm is known from context, told apart by
 * length like Nix's `Hash::parseNonSRIUnprefixed` (used in `CA:` values).
 */
export function parseUnprefixedHash(digest: string, algorithm: HashAlgorithm): Hash {
  return parseDigest(digest, algorithm, false, digest);
}

/** Parses the bare Nix32 digest of a SHA-256 hash, e.g. the file hash in a `nar/<hash>.nar.xz` URL. */
export function parseNix32Sha256(text: string): Hash {
  if (text.length !== nix32Length(32)) {
    throw new HashFormatError(`'${text}' is not a Nix32 SHA-256 digest: expected ${nix32Length(32)} characters, got ${text.length}`);
  }
  return { algorithm: 'sha256', digest: decodeNix32(text) };
}

/** Prints a hash; the default is Nix's own `sha256:<nix32>` form. */
export function formatHash(hash: Hash, encoding: HashEncoding = 'nix32'): string {
  switch (encoding) {
    case 'nix32':
      return `${hash.algorithm}:${encodeNix32(hash.digest)}`;
    case 'base16':
      return `${hash.algorithm}:${Buffer.from(hash.digest).toString('hex')}`;
    case 'base64':
      return `${hash.algorithm}:${encodeBase64(hash.digest)}`;
    case 'sri':
      return `${hash.algorithm}-${encodeBase64(hash.digest)}`;
  }
}

/** Whether two hashes have the same algorithm and digest. */
export function hashesEqual(a: Hash, b: Hash): boolean {
  return a.algorithm === b.algorithm && Buffer.compare(a.digest, b.digest) === 0;
}

/** SHA-256 of `bytes` (native `node:crypto`). */
export function sha256(bytes: Uint8Array | string): Hash {
  const digest = createHash('sha256').update(bytes).digest();
  return { algorithm: 'sha256', digest: new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength) };
}

function algorithmOf(name: string, whole: string): HashAlgorithm {
  if (!isHashAlgorithm(name)) {
    throw new HashFormatError(`hash '${whole}' has unknown algorithm '${name}' (Nix knows md5, sha1, sha256, sha512)`);
  }
  return name;
}

function parseDigest(rest: string, algorithm: HashAlgorithm, sri: boolean, whole: string): Hash {
  const size = DIGEST_LENGTH[algorithm];
  const base64Length = 4 * Math.ceil(size / 3);
  if (!sri && rest.length === size * 2) {
    if (!/^[0-9a-fA-F]*$/.test(rest)) throw new HashFormatError(`invalid base-16 hash '${whole}'`);
    const digest = Buffer.from(rest, 'hex');
    return { algorithm, digest: new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength) };
  }
  if (!sri && rest.length === nix32Length(size)) {
    try {
      return { algorithm, digest: decodeNix32(rest) };
    } catch (err) {
      throw new HashFormatError(`invalid base-32 hash '${whole}': ${(err as Error).message}`);
    }
  }
  if (sri || rest.length === base64Length) {
    const digest = decodeBase64Strict(rest);
    if (digest === undefined || digest.length !== size) {
      throw new HashFormatError(`invalid ${sri ? 'SRI' : 'base-64'} hash '${whole}'`);
    }
    return { algorithm, digest };
  }
  throw new HashFormatError(
    `hash '${whole}' has wrong length for hash type '${algorithm}' ` +
      `(expected ${size * 2} base-16, ${nix32Length(size)} Nix32 or ${base64Length} base-64 characters, got ${rest.length})`,
  );
}
