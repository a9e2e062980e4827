/**
 * Strict standard base64 (RFC 4648 §4, with `=` padding), as Nix writes it in key files,
 * `Sig:` lines and base64/SRI hashes. Node's own decoder silently skips garbage, and Nix
 * 2.8's skips newlines and stops at the first `=`; accepting only the canonical encoding
 * means every value we store re-encodes to exactly what was sent.
 */
import { Buffer } from 'node:buffer';

const CANONICAL = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes canonical base64, or returns `undefined` if `text` is anything else. */
export function decodeBase64Strict(text: string): Uint8Array | undefined {
  if (!CANONICAL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Rejects non-zero bits in the last character's unused low bits ("Zm9=" vs "Zm8=").
  if (bytes.toString('base64') !== text) return undefined;
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes bytes as padded standard base64. */
export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
