/**
 * Content addresses, the narinfo `CA:` field (2.8.0:src/libstore/content-address.cc):
 * `text:sha256:<hash>` (derivations, `builtins.toFile`), `fixed:<algo>:<hash>` (flat file
 * hash) and `fixed:r:<algo>:<hash>` (NAR hash, e.g. `nix-store --add`). Master also knows
 * `fixed:git:…`, which Nix 2.8 cannot parse (it makes the whole narinfo unreadable there),
 * so it is rejected.
 */
import { Buffer } from 'node:buffer';
import { ContentAddressError } from './errors.js';
import { formatHash, hashesEqual, isHashAlgorithm, parseUnprefixedHash, sha256, type Hash } from './hash.js';
import { encodeNix32 } from './nix32.js';
import { NIX_STORE_DIR, parseStorePathBaseName, type StorePath } from './store-path.js';

/** How the content was hashed: `text` (sha256 of the text), `flat` (hash of a file), `nar` (hash of its NAR). */
export type ContentAddressMethod = 'text' | 'flat' | 'nar';

/** A parsed `CA:` value. */
export interface ContentAddress {
  readonly method: ContentAddressMethod;
  readonly hash: Hash;
}

/** Parses a `CA:` value such as `fixed:r:sha256:1j6v…`. The digest may be base16, Nix32 or base64, as in Nix. */
export function parseContentAddress(text: string): ContentAddress {
  const [prefix, ...rest] = text.split(':');
  let method: ContentAddressMethod;
  if (prefix === 'text') method = 'text';
  else if (prefix === 'fixed') {
    method = rest[0] === 'r' ? 'nar' : 'flat';
    if (method === 'nar') rest.shift();
    if (rest[0] === 'git') {
      throw new ContentAddressError(`content address '${text}' uses git hashing, which Nix 2.8 clients cannot read`);
    }
  } else {
    throw new ContentAddressError(`content address '${text}' must start with 'text:' or 'fixed:'`);
  }
  if (rest.length !== 2) {
    throw new ContentAddressError(`content address '${text}' must have the form '${prefix}:${method === 'nar' ? 'r:' : ''}<algo>:<hash>'`);
  }
  const [algorithm, digest] = rest as [string, string];
  if (!isHashAlgorithm(algorithm)) {
    throw new ContentAddressError(`content address '${text}' has unknown hash algorithm '${algorithm}'`);
  }
  if (method === 'text' && algorithm !== 'sha256') {
    throw new ContentAddressError(`text content address '${text}' must use sha256, not ${algorithm}`);
  }
  try {
    return { method, hash: parseUnprefixedHash(digest, algorithm) };
  } catch (err) {
    throw new ContentAddressError(`content address '${text}' has an invalid hash: ${(err as Error).message}`);
  }
}

/** Renders a content address the way Nix writes it (hash in Nix32). */
export function formatContentAddress(ca: ContentAddress): string {
  const hash = formatHash(ca.hash, 'nix32');
  switch (ca.method) {
    case 'text':
      return `text:${hash}`;
    case 'flat':
      return `fixed:${hash}`;
    case 'nar':
      return `fixed:r:${hash}`;
  }
}

/**
 * The store path Nix derives from a content address (2.8.0:src/libstore/store-api.cc,
 * `makeFixedOutputPathFromCA`): `text:` paths (`makeTextPath`) and `fixed:r:sha256` paths
 * (`makeFixedOutputPath`, type `source`) put their references, and `:self` for a
 * self-reference, into the hashed string; every other fixed output (flat, or recursive
 * with another hash) hashes `fixed:out:[r:]<algo>:<base16>:` and may have no references.
 *
 * `references` are the path's references other than itself; `hasSelfReference` says
 * whether it refers to itself. Throws a {@link ContentAddressError} for combinations Nix
 * cannot produce (references on a flat path, a self-reference of a text path).
 */
export function storePathFromContentAddress(
  ca: ContentAddress,
  name: string,
  references: readonly StorePath[],
  hasSelfReference: boolean,
  storeDir: string = NIX_STORE_DIR,
): StorePath {
  const sortedRefs = [...references].map((r) => r.baseName).sort(compareBytes);
  const typeWithRefs = (type: string): string => `${type}${sortedRefs.map((r) => `:${storeDir}/${r}`).join('')}`;
  if (ca.method === 'text') {
    if (hasSelfReference) throw new ContentAddressError('a text content address cannot refer to its own path');
    return makeStorePath(typeWithRefs('text'), ca.hash, name, storeDir);
  }
  if (ca.method === 'nar' && ca.hash.algorithm === 'sha256') {
    return makeStorePath(`${typeWithRefs('source')}${hasSelfReference ? ':self' : ''}`, ca.hash, name, storeDir);
  }
  // Flat, or recursive with another hash: a plain fixed output, which has no references.
  if (references.length > 0 || hasSelfReference) {
    throw new ContentAddressError(`content address '${formatContentAddress(ca)}' cannot have references (only text and fixed:r:sha256 paths can)`);
  }
  const inner = sha256(`fixed:out:${ca.method === 'nar' ? 'r:' : ''}${formatHash(ca.hash, 'base16')}:`);
  return makeStorePath('output:out', inner, name, storeDir);
}

/**
 * `makeStorePath`: the hash part is SHA-256 of `<type>:sha256:<base16>:<storeDir>:<name>`,
 * folded to 20 bytes (`compressHash`) and written in Nix32.
 */
export function makeStorePath(type: string, hash: Hash, name: string, storeDir: string = NIX_STORE_DIR): StorePath {
  const digest = sha256(`${type}:${formatHash(hash, 'base16')}:${storeDir}:${name}`).digest;
  const folded = new Uint8Array(20);
  for (let i = 0; i < digest.length; i++) folded[i % 20]! ^= digest[i]!;
  return parseStorePathBaseName(`${encodeNix32(folded)}-${name}`);
}

/** The narinfo fields {@link assertContentAddressMatches} reads. */
export interface ContentAddressedPath {
  readonly storePath: StorePath;
  readonly ca?: ContentAddress;
  readonly references: readonly StorePath[];
  readonly narHash: Hash;
}

/**
 * Checks a narinfo's `CA:` against its store path, the way Nix decides whether a path "is
 * content-addressed" (`ValidPathInfo::isContentAddressed`): the path must be exactly the
 * one the content address, the name and the references give. For `fixed:r:sha256` without
 * a self-reference the content address is the NAR's hash, so it must also equal NarHash.
 * (With a self-reference Nix hashes the NAR with the self-references zeroed, which only a
 * second read of the NAR could check; flat and other hashes cover content this function
 * does not see. Nix verifies those when it imports the path.) No CA: nothing to check.
 * Throws a {@link ContentAddressError} naming the fault.
 */
export function assertContentAddressMatches(info: ContentAddressedPath, storeDir: string = NIX_STORE_DIR): void {
  const ca = info.ca;
  if (ca === undefined) return;
  const self = info.storePath.baseName;
  const others = info.references.filter((r) => r.baseName !== self);
  const hasSelfReference = others.length !== info.references.length;
  const expected = storePathFromContentAddress(ca, info.storePath.name, others, hasSelfReference, storeDir);
  if (expected.baseName !== self) {
    throw new ContentAddressError(
      `CA ${formatContentAddress(ca)} does not match StorePath: with this name and these references Nix derives ${storeDir}/${expected.baseName}, not ${storeDir}/${self}`,
    );
  }
  if (ca.method === 'nar' && ca.hash.algorithm === 'sha256' && !hasSelfReference && !hashesEqual(ca.hash, info.narHash)) {
    throw new ContentAddressError(
      `CA ${formatContentAddress(ca)} does not match NarHash ${formatHash(info.narHash)}: a fixed:r:sha256 content address is the hash of the NAR`,
    );
  }
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
