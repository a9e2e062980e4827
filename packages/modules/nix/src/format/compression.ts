/**
 * Compression names, NAR file names and magic-byte detection (protocol reference §2.4 and
 * §7.3). Decoders live in `decompress.ts`.
 *
 * Why sniff at all: Nix 2.8 decodes anything but `none`/`br` with libarchive's filter
 * auto-detection, so the `Compression:` label barely mattered there; 2.35+ decodes with the
 * labelled filter only. A cache that serves both must make sure the label matches the data,
 * which means looking at the data.
 */
import { Buffer } from 'node:buffer';
import { CompressionError } from './errors.js';
import { encodeNix32 } from './nix32.js';
import type { Hash } from './hash.js';

/** Every `Compression:` value Nix accepts (2.35 rejects anything else as corrupt). */
export const COMPRESSION_NAMES = [
  'none',
  'br',
  'bzip2',
  'compress',
  'grzip',
  'gzip',
  'lrzip',
  'lz4',
  'lzip',
  'lzma',
  'lzop',
  'xz',
  'zstd',
] as const;

/** A `Compression:` value Nix knows. */
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

/**
 * The compressions this cache can decode, and therefore verify, in bounded memory. Nix 2.8
 * also writes lz4, lzma (the legacy `.lzma` format: no magic number, no checksum) and
 * compress (`.Z`), and with external programs lzop, grzip and lrzip; those are refused
 * (docs/nix-cache.md, "Compressions").
 */
export const SUPPORTED_COMPRESSIONS = ['none', 'xz', 'zstd', 'bzip2', 'lzip', 'gzip', 'br'] as const satisfies readonly CompressionName[];

/** A compression this cache can decode. */
export type SupportedCompression = (typeof SUPPORTED_COMPRESSIONS)[number];

/** Whether `name` is a `Compression:` value Nix knows. */
export function isCompressionName(name: string): name is CompressionName {
  return (COMPRESSION_NAMES as readonly string[]).includes(name);
}

/** Whether this cache can decode `name`. */
export function isSupportedCompression(name: string): name is SupportedCompression {
  return (SUPPORTED_COMPRESSIONS as readonly string[]).includes(name);
}

/** Throws a {@link CompressionError} naming the supported set unless `name` is supported. */
export function assertSupportedCompression(name: string): asserts name is SupportedCompression {
  if (isSupportedCompression(name)) return;
  const known = isCompressionName(name) ? `'${name}' is not supported by this cache` : `'${name}' is not a compression Nix knows`;
  throw new CompressionError(`unsupported compression: ${known}; supported: ${SUPPORTED_COMPRESSIONS.join(', ')}`);
}

/**
 * The extension Nix appends to `nar/<filehash>.nar` for a compression
 * (2.8.0:src/libstore/binary-cache-store.cc:168-175): only xz, bzip2, zstd, lzip, lz4 and br
 * get one; gzip, lzma, none and the others share the bare `.nar`.
 */
export function narFileExtension(compression: CompressionName): string {
  switch (compression) {
    case 'xz':
      return '.xz';
    case 'bzip2':
      return '.bz2';
    case 'zstd':
      return '.zst';
    case 'lzip':
      return '.lzip';
    case 'lz4':
      return '.lz4';
    case 'br':
      return '.br';
    default:
      return '';
  }
}

/** The narinfo `URL:` Nix writes for a file: `nar/<nix32 file hash>.nar<ext>`. */
export function narFileUrl(fileHash: Hash, compression: CompressionName): string {
  return `nar/${encodeNix32(fileHash.digest)}.nar${narFileExtension(compression)}`;
}

/** A parsed NAR file name (the part after `nar/`). */
export interface NarFileName {
  /** The Nix32 file hash in the name (not yet checked against anything). */
  readonly fileHash: string;
  /** `''` for a bare `.nar`, else e.g. `.xz`. */
  readonly extension: string;
  /**
   * The compressions Nix would give this name. One entry except for a bare `.nar`, which
   * Nix writes for none, gzip, lzma, lzop, compress, grzip and lrzip alike.
   */
  readonly compressions: readonly CompressionName[];
}

const EXTENSION_TO_COMPRESSION: Record<string, CompressionName> = {
  '.xz': 'xz',
  '.bz2': 'bzip2',
  '.zst': 'zstd',
  '.lzip': 'lzip',
  '.lz4': 'lz4',
  '.br': 'br',
};

/** Parses `<nix32>.nar[.ext]`; returns `undefined` for any other shape. */
export function parseNarFileName(fileName: string): NarFileName | undefined {
  const match = /^([0-9a-df-np-sv-z]{52})\.nar((?:\.[a-z0-9]+)?)$/.exec(fileName);
  if (match === null) return undefined;
  const [, fileHash, extension] = match as unknown as [string, string, string];
  if (extension === '') {
    return { fileHash, extension, compressions: COMPRESSION_NAMES.filter((c) => narFileExtension(c) === '') };
  }
  const compression = EXTENSION_TO_COMPRESSION[extension];
  return compression === undefined ? undefined : { fileHash, extension, compressions: [compression] };
}

/** How many leading bytes {@link detectCompression} needs to decide. */
export const COMPRESSION_MAGIC_LENGTH = 24;

/** Uncompressed NARs start with `str("nix-archive-1")`. */
const NAR_MAGIC = Uint8Array.of(13, 0, 0, 0, 0, 0, 0, 0, ...Buffer.from('nix-archive-1'), 0, 0, 0);

const MAGICS: ReadonlyArray<readonly [CompressionName, Uint8Array]> = [
  ['xz', Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)],
  ['zstd', Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd)],
  ['gzip', Uint8Array.of(0x1f, 0x8b)],
  ['bzip2', Uint8Array.of(0x42, 0x5a, 0x68)], // "BZh"
  ['lz4', Uint8Array.of(0x04, 0x22, 0x4d, 0x18)],
  ['lzip', Uint8Array.of(0x4c, 0x5a, 0x49, 0x50)], // "LZIP"
  ['lzop', Uint8Array.of(0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a, 0x0a)],
  ['compress', Uint8Array.of(0x1f, 0x9d)],
  ['lrzip', Uint8Array.of(0x4c, 0x52, 0x5a, 0x49)], // "LRZI"
  ['grzip', Buffer.from('GRZipII')],
];

/**
 * Detects the compression of a file from its first {@link COMPRESSION_MAGIC_LENGTH} bytes
 * (or all of them, if shorter). Returns `none` for an uncompressed NAR and `undefined`
 * when nothing matches.
 *
 * Brotli streams have no magic number, and the legacy `.lzma` format has none worth the
 * name, so they can never be detected: an `undefined` result with a declared `br` label is
 * expected, and the brotli decoder (followed by the NAR parser) is the real check. zstd
 * skippable frames (`0x184D2A5?`) count as zstd.
 */
export function detectCompression(head: Uint8Array): CompressionName | undefined {
  if (startsWith(head, NAR_MAGIC)) return 'none';
  for (const [name, magic] of MAGICS) if (startsWith(head, magic)) return name;
  if (head.length >= 4 && (head[0] & 0xf0) === 0x50 && head[1] === 0x2a && head[2] === 0x4d && head[3] === 0x18) return 'zstd';
  return undefined;
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  if (bytes.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}
