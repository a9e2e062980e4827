/**
 * Nix signing keys and signatures (protocol reference §3; 2.8.0:src/libstore/crypto.cc):
 * Ed25519 as libsodium does it. Key files are `<name>:<base64>`: a secret key is 64 bytes
 * (32-byte seed ‖ 32-byte public key, libsodium's layout), a public key 32 bytes. A
 * signature is `<key name>:<base64 of 64 bytes>`, as in narinfo `Sig:` lines.
 *
 * Ed25519 is deterministic, so signing a fingerprint with the same key reproduces Nix's
 * signature byte for byte (the tests check this against signatures made by Nix 2.8).
 */
import { Buffer } from 'node:buffer';
import { createHash, createPrivateKey, randomBytes, sign as cryptoSign, type KeyObject } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { decodeBase64Strict, encodeBase64 } from './base64.js';
import { SignatureFormatError } from './errors.js';
import { fingerprintPath, type FingerprintFields } from './fingerprint.js';

// @noble/ed25519 v3 only offers its synchronous API once a SHA-512 is plugged in; Node's
// native one is much faster than a JavaScript implementation. This sets a module-global
// hook, always to the same function, so it is safe to run once per process on import.
ed.hashes.sha512 = (message) => new Uint8Array(createHash('sha512').update(message).digest());

/** A secret signing key. `bytes` is libsodium's 64-byte secret key: seed ‖ public key. */
export interface SecretKey {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** A public key (32 bytes), as listed in `trusted-public-keys`. */
export interface PublicKey {
  readonly name: string;
  readonly bytes: Uint8Array;
}

/** A parsed signature (`Sig:` value). */
export interface NixSignature {
  readonly keyName: string;
  readonly bytes: Uint8Array;
}

/**
 * Generates a new key pair named `name` (e.g. `forge.example-alice-1`). The name must be
 * non-empty and free of `:` and whitespace: Nix splits key files and signatures at the
 * first `:`, and `trusted-public-keys` is a whitespace-separated list.
 */
export function generateSigningKey(name: string): SecretKey {
  checkKeyName(name);
  const seed = new Uint8Array(randomBytes(32));
  const pub = ed.getPublicKey(seed);
  const bytes = new Uint8Array(64);
  bytes.set(seed, 0);
  bytes.set(pub, 32);
  return { name, bytes };
}

/** The public half of a secret key. */
export function publicKeyOf(secret: SecretKey): PublicKey {
  return { name: secret.name, bytes: secret.bytes.slice(32) };
}

/**
 * Parses a secret key file (`nix key generate-secret` output). A trailing newline is
 * tolerated (Nix's decoder skips newlines too); the embedded public key must match the seed,
 * since a mismatched one would make every signature invalid.
 */
export function parseSecretKey(text: string): SecretKey {
  const { name, bytes } = parseNamedBase64(trimNewlines(text), 64, 'secret key');
  const expected = ed.getPublicKey(bytes.subarray(0, 32));
  if (!equalBytes(expected, bytes.subarray(32))) {
    throw new SignatureFormatError(`secret key '${name}' is corrupt: its public half does not match its seed`);
  }
  return { name, bytes };
}

/** Parses a public key (`name:base64`, as in `trusted-public-keys` or a `.pub` file). */
export function parsePublicKey(text: string): PublicKey {
  return parseNamedBase64(trimNewlines(text), 32, 'public key');
}

/** Renders a secret key file exactly as Nix writes it (no trailing newline). */
export function formatSecretKey(key: SecretKey): string {
  return `${key.name}:${encodeBase64(key.bytes)}`;
}

/** Renders a public key as Nix writes it (no trailing newline). */
export function formatPublicKey(key: PublicKey): string {
  return `${key.name}:${encodeBase64(key.bytes)}`;
}

/**
 * Parses a `Sig:` value, `<key name>:<base64>`, with the strictness of Nix 2.34+ (where a
 * malformed Sig makes the whole narinfo unreadable): non-empty name, canonical base64 of
 * exactly 64 bytes. In 2.8 a wrong length under a trusted name is fatal too.
 */
export function parseSignature(text: string): NixSignature {
  const { name, bytes } = parseNamedBase64(text, 64, 'signature');
  return { keyName: name, bytes };
}

/** Renders a signature as a `Sig:` value. */
export function formatSignature(signature: NixSignature): string {
  return `${signature.keyName}:${encodeBase64(signature.bytes)}`;
}

/** Signs a fingerprint (see `fingerprint.ts`), returning the `Sig:` value. */
export function signFingerprint(fingerprint: string, secret: SecretKey): string {
  // Ed25519 signatures are deterministic: OpenSSL's (through node:crypto, ~20× faster than
  // @noble/ed25519 in JavaScript) are the same bytes. Every upload signs once.
  const bytes = cryptoSign(null, Buffer.from(fingerprint, 'utf8'), signingKeyObject(secret));
  return formatSignature({ keyName: secret.name, bytes });
}

/** PKCS#8 DER prefix of an Ed25519 private key (RFC 8410), followed by the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const keyObjects = new WeakMap<Uint8Array, KeyObject>();

function signingKeyObject(secret: SecretKey): KeyObject {
  let key = keyObjects.get(secret.bytes);
  if (!key) {
    key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, secret.bytes.subarray(0, 32)]), format: 'der', type: 'pkcs8' });
    keyObjects.set(secret.bytes, key);
  }
  return key;
}

/**
 * Whether `signature` is a valid signature of `fingerprint` by `publicKey`. A signature
 * under another key name is not valid (Nix looks keys up by name). Verification is strict
 * RFC 8032 (noble's `zip215: false`, which like libsodium rejects non-canonical encodings
 * and small-order public keys). A malformed signature string throws.
 */
export function verifySignature(fingerprint: string, signature: string | NixSignature, publicKey: PublicKey): boolean {
  const sig = typeof signature === 'string' ? parseSignature(signature) : signature;
  if (sig.keyName !== publicKey.name) return false;
  try {
    return ed.verify(sig.bytes, Buffer.from(fingerprint, 'utf8'), publicKey.bytes, { zip215: false });
  } catch {
    // A public key that is not a curve point verifies nothing.
    return false;
  }
}

/** Signs a path's fingerprint (`1;path;narHash;narSize;refs`), returning the `Sig:` value. */
export function signPath(info: FingerprintFields, secret: SecretKey, storeDir?: string): string {
  return signFingerprint(fingerprintPath(info, storeDir), secret);
}

/** What {@link checkPathSignatures} found for each `Sig:`. */
export interface SignatureCheck {
  /** Key names whose signature verified against a trusted key. */
  readonly valid: readonly string[];
  /** Key names that are trusted but whose signature does not verify (or is malformed). */
  readonly invalid: readonly string[];
  /** Key names no trusted key has; Nix ignores these. */
  readonly untrusted: readonly string[];
}

/**
 * Checks every signature of a path against trusted keys, the way Nix counts them: keys are
 * looked up by name (the first key of a name wins), unknown names are ignored.
 */
export function checkPathSignatures(
  info: FingerprintFields & { readonly sigs: readonly string[] },
  trusted: readonly PublicKey[],
  storeDir?: string,
): SignatureCheck {
  const keys = new Map<string, PublicKey>();
  for (const key of trusted) if (!keys.has(key.name)) keys.set(key.name, key);
  const fingerprint = fingerprintPath(info, storeDir);
  const valid: string[] = [];
  const invalid: string[] = [];
  const untrusted: string[] = [];
  for (const text of info.sigs) {
    const colon = text.indexOf(':');
    const name = colon < 0 ? text : text.slice(0, colon);
    const key = keys.get(name);
    if (key === undefined) untrusted.push(name);
    else {
      let ok = false;
      try {
        ok = verifySignature(fingerprint, text, key);
      } catch {
        ok = false;
      }
      (ok ? valid : invalid).push(name);
    }
  }
  return { valid, invalid, untrusted };
}

function checkKeyName(name: string): void {
  if (name === '' || /[:\s]/.test(name) || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new SignatureFormatError(`invalid key name ${JSON.stringify(name)}: it must be non-empty, without ':' or whitespace`);
  }
}

function parseNamedBase64(text: string, size: number, what: string): { name: string; bytes: Uint8Array } {
  const colon = text.indexOf(':');
  if (colon < 0) throw new SignatureFormatError(`${what} ${JSON.stringify(abbreviate(text))} is not of the form '<key name>:<base64>'`);
  const name = text.slice(0, colon);
  if (name === '') throw new SignatureFormatError(`${what} ${JSON.stringify(abbreviate(text))} has an empty key name`);
  const bytes = decodeBase64Strict(text.slice(colon + 1));
  if (bytes === undefined) throw new SignatureFormatError(`${what} of key '${name}' is not valid base64`);
  if (bytes.length !== size) {
    throw new SignatureFormatError(`${what} of key '${name}' decodes to ${bytes.length} bytes, expected ${size}`);
  }
  return { name, bytes };
}

function trimNewlines(text: string): string {
  return text.replace(/\n+$/, '');
}

function abbreviate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}
