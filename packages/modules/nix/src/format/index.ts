/**
 * The pure Nix format layer: Nix32, hashes, store paths, narinfo, signatures, NAR parsing
 * and writing, listings, compression and upload verification. No HTTP, no database: bytes
 * and streams in, typed values (or a `NixFormatError` with a user-facing message) out.
 */
export * from './errors.js';
export * from './nar-string.js';
export * from './base64.js';
export * from './nix32.js';
export * from './hash.js';
export * from './store-path.js';
export * from './drv-name.js';
export * from './content-address.js';
export * from './compression.js';
export * from './narinfo.js';
export * from './fingerprint.js';
export * from './signing.js';
export * from './listing.js';
export * from './listing-writer.js';
export * from './listing-reader.js';
export * from './chunk-channel.js';
export * from './reference-scanner.js';
export * from './nar-parser.js';
export * from './nar-writer.js';
export * from './decompress.js';
export { XZ_MAX_MEMORY, XzDecoder } from './xz-decoder.js';
export { ZSTD_MAX_WINDOW } from './zstd-frames.js';
export * from './verify-nar.js';
export * from './cache-info.js';
export * from './realisation.js';
