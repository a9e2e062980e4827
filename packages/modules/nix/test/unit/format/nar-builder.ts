/**
 * Builds NAR byte sequences token by token, including non-canonical ones, for the
 * malformed-NAR corpus. `tokens` are strings (written as NAR strings) or raw bytes.
 */
export function u64(n: number | bigint): Uint8Array {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export function str(s: string | Uint8Array, padByte = 0): Uint8Array {
  const bytes = typeof s === 'string' ? Buffer.from(s, 'latin1') : s;
  const pad = (8 - (bytes.length % 8)) % 8;
  return Buffer.concat([u64(bytes.length), bytes, Buffer.alloc(pad, padByte)]);
}

export function nar(...tokens: Array<string | Uint8Array>): Uint8Array {
  return Buffer.concat(tokens.map((t) => (typeof t === 'string' ? str(t) : t)));
}

/** Tokens of a regular file node with the given contents. */
export function file(contents: string, executable = false): Array<string | Uint8Array> {
  return ['(', 'type', 'regular', ...(executable ? ['executable', ''] : []), 'contents', contents, ')'];
}

/** Tokens of a directory entry. */
export function entry(name: string, node: Array<string | Uint8Array>): Array<string | Uint8Array> {
  return ['entry', '(', 'name', name, 'node', ...node, ')'];
}

export const MAGIC = 'nix-archive-1';
