/**
 * The string a narinfo signature covers (protocol reference §3; 2.8.0:src/libstore/store-api.cc:1186-1196):
 *
 *   1;<store path>;sha256:<nix32 NarHash>;<NarSize>;<sorted full reference paths, comma-separated>
 *
 * URL, Compression, FileHash, FileSize, Deriver and CA are not covered, which is why a
 * server may recompress a NAR or rewrite its URL without invalidating signatures.
 */
import { NixFormatError } from './errors.js';
import { formatHash, type Hash } from './hash.js';
import { formatStorePath, NIX_STORE_DIR, type StorePath } from './store-path.js';

/** The fields a fingerprint covers; a {@link NarInfo} has them all. */
export interface FingerprintFields {
  readonly storePath: StorePath;
  readonly narHash: Hash;
  readonly narSize: number;
  readonly references: readonly StorePath[];
}

/**
 * The fingerprint Nix signs and verifies. The NarHash is always re-rendered as
 * `sha256:<nix32>`, whatever encoding the narinfo used; references are full paths in
 * bytewise order (a `std::set<std::string>`), self-references included.
 */
export function fingerprintPath(info: FingerprintFields, storeDir: string = NIX_STORE_DIR): string {
  if (!(info.narSize > 0)) {
    // Nix refuses too: "cannot calculate fingerprint of path … because its size is not known".
    throw new NixFormatError(`cannot compute the fingerprint of ${info.storePath.baseName}: its NarSize is not known`);
  }
  const refs = [...new Set(info.references.map((r) => formatStorePath(r, storeDir)))].sort(compareAscii);
  return `1;${formatStorePath(info.storePath, storeDir)};${formatHash(info.narHash, 'nix32')};${info.narSize};${refs.join(',')}`;
}

// Store paths are ASCII, so UTF-16 order is byte order.
function compareAscii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
