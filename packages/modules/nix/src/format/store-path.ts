/**
 * Store paths, `/nix/store/<hash>-<name>`, checked with the strictest rules of Nix 2.8 and
 * current Nix (protocol reference §4; 2.8.0:src/libstore/path.cc:7-31 and master's
 * path.cc): 32 Nix32 characters, then `-` (only master checks it), then a name of 1–211
 * characters from `[A-Za-z0-9+\-._?=]` that is not `.`, `..` and does not start with
 * `.-` or `..-` (rejected since 2.20).
 */
import { StorePathError } from './errors.js';

/** The store directory every Nix client this cache serves uses. */
export const NIX_STORE_DIR = '/nix/store';

/** Length of a store path's hash part (160 bits in Nix32). */
export const STORE_PATH_HASH_LENGTH = 32;

/** Longest store path name Nix accepts (`StorePath::MaxPathLen`). */
export const STORE_PATH_NAME_MAX_LENGTH = 211;

/** The 32-character Nix32 hash part of a store path, validated. */
export type StorePathHash = string & { readonly __brand: 'StorePathHash' };

/** A parsed store path. `baseName` is `<hashPart>-<name>`. */
export interface StorePath {
  readonly hashPart: StorePathHash;
  readonly name: string;
  readonly baseName: string;
}

const HASH_PART = /^[0-9a-df-np-sv-z]{32}$/;
const NAME_CHARS = /^[A-Za-z0-9+\-._?=]+$/;

/** Whether `text` is a valid store path hash part (as in `<hash>.narinfo` URLs). */
export function isStorePathHash(text: string): text is StorePathHash {
  return HASH_PART.test(text);
}

/** Validates a store path hash part, e.g. from a `/<hash>.narinfo` URL. */
export function parseStorePathHash(text: string): StorePathHash {
  if (isStorePathHash(text)) return text;
  if (text.length !== STORE_PATH_HASH_LENGTH) {
    throw new StorePathError(`'${text}' is not a store path hash: expected ${STORE_PATH_HASH_LENGTH} characters, got ${text.length}`);
  }
  throw new StorePathError(`'${text}' is not a store path hash: ${describeHashProblem(text)}`);
}

/** Why `name` is not a valid store path name, or `undefined` if it is. */
export function storePathNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (name.length > STORE_PATH_NAME_MAX_LENGTH) {
    return `the name is ${name.length} characters long, more than ${STORE_PATH_NAME_MAX_LENGTH}`;
  }
  if (!NAME_CHARS.test(name)) {
    const bad = [...name].find((c) => !NAME_CHARS.test(c));
    return `the name contains the illegal character ${JSON.stringify(bad)} (allowed: A-Z a-z 0-9 + - . _ ? =)`;
  }
  if (name === '.' || name === '..') return `the name '${name}' is not allowed`;
  if (name.startsWith('.-') || name.startsWith('..-')) {
    return `the name's first dash-separated component must not be '${name.startsWith('.-') ? '.' : '..'}'`;
  }
  return undefined;
}

/** Whether `name` is a valid store path name. */
export function isStorePathName(name: string): boolean {
  return storePathNameProblem(name) === undefined;
}

/** Parses a store path base name, `<hash>-<name>` (as in `References:` and `Deriver:`). */
export function parseStorePathBaseName(baseName: string): StorePath {
  if (baseName.length < STORE_PATH_HASH_LENGTH + 1) {
    throw new StorePathError(`'${baseName}' is too short to be a valid store path`);
  }
  const hashPart = baseName.slice(0, STORE_PATH_HASH_LENGTH);
  if (!isStorePathHash(hashPart)) {
    throw new StorePathError(`store path '${baseName}' has an invalid hash part: ${describeHashProblem(hashPart)}`);
  }
  if (baseName[STORE_PATH_HASH_LENGTH] !== '-') {
    throw new StorePathError(`'${baseName}' is not a store path: the hash part is not followed by '-'`);
  }
  const name = baseName.slice(STORE_PATH_HASH_LENGTH + 1);
  const problem = storePathNameProblem(name);
  if (problem !== undefined) throw new StorePathError(`store path '${baseName}' is not valid: ${problem}`);
  return { hashPart, name, baseName };
}

/**
 * Parses a full store path. Unlike Nix, which canonicalises first, the text must already be
 * exactly `<storeDir>/<baseName>`: `//`, `/./` or a trailing `/` are rejected, so the
 * stored text is the one every client computes fingerprints from.
 */
export function parseStorePath(path: string, storeDir: string = NIX_STORE_DIR): StorePath {
  const prefix = `${storeDir}/`;
  if (!path.startsWith(prefix)) {
    throw new StorePathError(`'${path}' is not in the Nix store (expected a path starting with '${prefix}')`);
  }
  const baseName = path.slice(prefix.length);
  if (baseName.startsWith('/') || baseName === '') {
    throw new StorePathError(`'${path}' is not a canonical store path (empty path component)`);
  }
  if (baseName.includes('/')) {
    throw new StorePathError(`'${path}' is not a store path: it names something inside '${prefix}${baseName.split('/')[0]}'`);
  }
  return parseStorePathBaseName(baseName);
}

/** The full path `<storeDir>/<baseName>`. */
export function formatStorePath(path: StorePath, storeDir: string = NIX_STORE_DIR): string {
  return `${storeDir}/${path.baseName}`;
}

/** Whether the store path is a derivation (`.drv`). */
export function isDerivation(path: StorePath): boolean {
  return path.name.endsWith('.drv');
}

function describeHashProblem(hashPart: string): string {
  const bad = [...hashPart].find((c) => !/^[0-9a-df-np-sv-z]$/.test(c));
  return bad === undefined ? 'not Nix32' : `'${bad}' is not a Nix32 character`;
}
