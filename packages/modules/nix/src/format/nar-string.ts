/**
 * File names and symlink targets inside a NAR are arbitrary bytes (only `/` and NUL are
 * excluded from names), not necessarily UTF-8. To hand them out as JavaScript strings
 * without losing anything, valid UTF-8 is decoded normally and every byte that is not part
 * of a valid UTF-8 sequence becomes the lone surrogate U+DC80 + (byte - 0x80), the
 * "surrogateescape" scheme of Python's `os.fsdecode`. Valid UTF-8 never decodes to a lone
 * surrogate, so the mapping is reversible: {@link encodeNarString} gives back the exact
 * bytes, and two different names can never collide.
 */
import { Buffer } from 'node:buffer';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const ESCAPE_BASE = 0xdc00;
/** Lone surrogates in U+DC80..U+DCFF are escaped bytes; any other surrogate is a bug or bad input. */
const SURROGATE = /[\ud800-\udfff]/;

/** Decodes NAR name/target bytes to a string, escaping non-UTF-8 bytes (see module doc). */
export function decodeNarString(bytes: Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return decodeEscaping(bytes);
  }
}

/** Encodes a string from {@link decodeNarString} back to its exact bytes. */
export function encodeNarString(text: string): Uint8Array {
  if (!SURROGATE.test(text)) return Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        pushUtf8(out, 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00));
        i++;
        continue;
      }
    }
    if (c >= 0xdc80 && c <= 0xdcff) {
      out.push(c - ESCAPE_BASE);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      throw new TypeError(`string contains a lone surrogate U+${c.toString(16).toUpperCase()} that does not stand for a byte`);
    }
    pushUtf8(out, c);
  }
  return Uint8Array.from(out);
}

/** Compares two NAR strings by their bytes, the order Nix sorts directory entries in. */
export function compareNarStrings(a: string, b: string): number {
  return Buffer.compare(encodeNarString(a), encodeNarString(b));
}

function pushUtf8(out: number[], cp: number): void {
  if (cp < 0x80) out.push(cp);
  else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
}

/** Slow path: a UTF-8 decoder that escapes each byte of an invalid sequence. */
function decodeEscaping(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i];
    const n = sequenceLength(bytes, i);
    if (n === 0) {
      out += String.fromCharCode(b < 0x80 ? b : ESCAPE_BASE + b);
      i++;
      continue;
    }
    out += strictUtf8.decode(bytes.subarray(i, i + n));
    i += n;
  }
  return out;
}

/** Length of the valid UTF-8 sequence starting at `i` (RFC 3629 table), or 0 if invalid. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 === 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
  if ((b0 >= 0xe1 && b0 <= 0xec) || b0 === 0xee || b0 === 0xef) return cont(1) && cont(2) ? 3 : 0;
  if (b0 === 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
  if (b0 === 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
  if (b0 >= 0xf1 && b0 <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
  if (b0 === 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}
