/**
 * Content addresses, the narinfo `CA:` field (2.8.0:src/libstore/content-address.cc):
 * `text:sha256:<hash>` (derivations, `builtins.toFile`), `fixed:<algo>:<hash>` (flat file
 * hash) and `fixed:r:<algo>:<hash>` (NAR hash, e.g. `nix-store --add`). Master also knows
 * `fixed:git:…`, which Nix 2.8 cannot parse (it makes the whole narinfo unreadable there),
 * so it is rejected.
 */
import { ContentAddressError } from './errors.js';
import { formatHash, isHashAlgorithm, parseUnprefixedHash, type Hash } from './hash.js';

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
