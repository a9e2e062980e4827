/**
 * Formatting helpers only the Nix pages need (the shared ones, `formatBytes`,
 * `shellQuote`, …, come from @forge/core). Nothing here produces HTML: values go into
 * preact text and attributes (escaped), or into URLs through the encoders below.
 */
import { encodeNarString } from '../format/index.js';

/** A Nix string literal (`"…"`), with `\`, `"` and `${` escaped. */
export function nixString(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\$\{/g, '\\${')}"`;
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Percent-encodes a path inside a NAR for a URL, byte by byte. Names inside a NAR are
 * arbitrary bytes (non-UTF-8 ones arrive as lone surrogates, see `nar-string.ts`), which
 * `encodeURIComponent` would refuse; `/` separates segments.
 */
export function encodeNarPath(path: string): string {
  return path
    .split('/')
    .map((segment) => {
      let out = '';
      for (const byte of encodeNarString(segment)) {
        const c = String.fromCharCode(byte);
        out += byte < 0x80 && UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
      return out;
    })
    .join('/');
}

/** Decodes `%XX` escapes to bytes (anything else stays as its UTF-8 bytes). */
export function percentDecodeBytes(text: string): Buffer {
  const out: number[] = [];
  const raw = Buffer.from(text, 'utf8');
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x25 && i + 2 < raw.length) {
      const hex = String.fromCharCode(raw[i + 1]!, raw[i + 2]!);
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        out.push(parseInt(hex, 16));
        i += 2;
        continue;
      }
    }
    out.push(b);
  }
  return Buffer.from(out);
}

/** Removes ANSI escape sequences (colours in build logs). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]|\u001b[\]P^_][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g, '');
}

/** Whether bytes look like text: no NUL and valid UTF-8 (a sequence cut off at the end is fine). */
export function looksLikeText(bytes: Uint8Array, truncated: boolean): boolean {
  if (bytes.includes(0)) return false;
  let view = bytes;
  if (truncated) {
    // Drop a multi-byte sequence cut off by the size cap.
    let back = 0;
    while (back < 3 && back < view.length && (view[view.length - 1 - back]! & 0xc0) === 0x80) back++;
    if (back < view.length && view[view.length - 1 - back]! >= 0xc0) view = view.subarray(0, view.length - 1 - back);
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(view);
  } catch {
    return false;
  }
  return true;
}

/** Classic 16-bytes-a-line hex dump. */
export function hexDump(bytes: Uint8Array, max = 1024): string {
  const lines: string[] = [];
  const n = Math.min(bytes.length, max);
  for (let off = 0; off < n; off += 16) {
    const row = bytes.subarray(off, Math.min(off + 16, n));
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${off.toString(16).padStart(8, '0')}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines.join('\n');
}
