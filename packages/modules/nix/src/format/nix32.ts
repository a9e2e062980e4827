/**
 * Nix's base-32 encoding ("Nix32"), used for store path hash parts and for hashes in
 * narinfos and NAR URLs. It is not RFC 4648 base32: the alphabet omits `e o u t`, and the
 * bytes are read as one little-endian number printed most significant digit first
 * (protocol reference §4; 2.8.0:src/libutil/hash.cc:84-104 and 228-248).
 */
import { HashFormatError } from './errors.js';

/** The 32 digits, in value order. Lower case only: Nix rejects upper case. */
export const NIX32_ALPHABET = '0123456789abcdfghijklmnpqrsvwxyz';

const DIGIT_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < NIX32_ALPHABET.length; i++) DIGIT_VALUE[NIX32_ALPHABET.charCodeAt(i)] = i;

/** Number of Nix32 characters for `byteLength` bytes: 52 for SHA-256, 32 for a store path hash. */
export function nix32Length(byteLength: number): number {
  return byteLength === 0 ? 0 : Math.floor((byteLength * 8 - 1) / 5) + 1;
}

/** Encodes bytes as Nix32. */
export function encodeNix32(bytes: Uint8Array): string {
  const len = nix32Length(bytes.length);
  let out = '';
  for (let n = len - 1; n >= 0; n--) {
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    const c = (bytes[i] >> j) | (i + 1 < bytes.length ? bytes[i + 1] << (8 - j) : 0);
    out += NIX32_ALPHABET[c & 0x1f];
  }
  return out;
}

/**
 * Decodes Nix32. The byte length follows from the text length (52 chars → 32 bytes); a
 * length no byte count encodes to, a character outside the alphabet, or a top digit with
 * bits beyond the last byte is rejected, as Nix does.
 */
export function decodeNix32(text: string): Uint8Array {
  const byteLength = Math.floor((text.length * 5) / 8);
  if (nix32Length(byteLength) !== text.length) {
    throw new HashFormatError(`invalid Nix32 string '${text}': no byte string encodes to ${text.length} characters`);
  }
  const out = new Uint8Array(byteLength);
  for (let n = 0; n < text.length; n++) {
    const code = text.charCodeAt(text.length - n - 1);
    const digit = code < 128 ? DIGIT_VALUE[code] : -1;
    if (digit < 0) {
      throw new HashFormatError(
        `invalid Nix32 string '${text}': '${text[text.length - n - 1]}' is not a Nix32 digit (allowed: ${NIX32_ALPHABET})`,
      );
    }
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    out[i] |= (digit << j) & 0xff;
    const carry = digit >> (8 - j);
    if (i + 1 < byteLength) out[i + 1] |= carry;
    else if (carry !== 0) {
      throw new HashFormatError(`invalid Nix32 string '${text}': its first digit has bits beyond the last byte`);
    }
  }
  return out;
}

/** Whether `text` is a valid Nix32 string (optionally of exactly `length` characters). */
export function isNix32(text: string, length?: number): boolean {
  if (length !== undefined && text.length !== length) return false;
  try {
    decodeNix32(text);
    return true;
  } catch {
    return false;
  }
}
