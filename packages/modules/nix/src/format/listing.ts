/**
 * `.ls` NAR listings (protocol reference §6): what files a store path holds, where each
 * file's bytes start in the uncompressed NAR, without the NAR itself.
 *
 * Names and symlink targets are NAR strings (see `nar-string.ts`): arbitrary bytes, with
 * non-UTF-8 bytes escaped as lone surrogates. Directory entries are a `Map` in byte order,
 * because a plain object would move integer-like names ("9", "10") to the front.
 */
import { ListingFormatError } from './errors.js';
import { compareNarStrings, decodeNarString, encodeNarString } from './nar-string.js';

/** A regular file. `narOffset` is the offset of its first content byte in the uncompressed NAR. */
export interface NarListingRegular {
  readonly type: 'regular';
  readonly size: number;
  readonly executable: boolean;
  /** Always set by the NAR parser; optional only because uploaded listings may lack it. */
  readonly narOffset?: number;
}

/** A symbolic link; the target is opaque bytes (a NAR string). */
export interface NarListingSymlink {
  readonly type: 'symlink';
  readonly target: string;
}

/** A directory; entries are in the NAR's (bytewise) order. */
export interface NarListingDirectory {
  readonly type: 'directory';
  readonly entries: ReadonlyMap<string, NarListingNode>;
}

/** Any node of a listing. */
export type NarListingNode = NarListingRegular | NarListingSymlink | NarListingDirectory;

/** A whole `.ls` document. */
export interface NarListing {
  readonly version: 1;
  readonly root: NarListingNode;
}

/** Nix's NAR parser refuses nodes this deep or deeper (master:src/libutil/archive.cc:41). */
export const NAR_MAX_DEPTH = 64;

/**
 * Renders a listing byte for byte as Nix 2.8 writes it (2.8.0:src/libstore/nar-accessor.cc:243
 * with src/libutil/json.cc): compact, keys in insertion order (`version`, `root`; `type`
 * first), `executable` only when true, `narOffset` only when non-zero. Strings are escaped
 * like Nix 2.8's `toJSON`: `\"`, `\\`, `\n`, `\r`, `\t`, other control characters as
 * `\u00xx`, and every other byte written raw, so a non-UTF-8 name comes out as the same raw
 * bytes Nix writes (which is why this returns bytes, not a string).
 */
export function renderListing(listing: NarListing): Uint8Array {
  const parts: string[] = ['{"version":1,"root":'];
  renderNode(listing.root, parts);
  parts.push('}');
  const text = parts.join('');
  return encodeNarString(text);
}

function renderNode(node: NarListingNode, out: string[]): void {
  switch (node.type) {
    case 'regular':
      out.push(`{"type":"regular","size":${node.size}`);
      if (node.executable) out.push(',"executable":true');
      if (node.narOffset) out.push(`,"narOffset":${node.narOffset}`);
      out.push('}');
      return;
    case 'symlink':
      out.push(`{"type":"symlink","target":${jsonString(node.target)}}`);
      return;
    case 'directory': {
      out.push('{"type":"directory","entries":{');
      let first = true;
      for (const [name, child] of node.entries) {
        if (!first) out.push(',');
        first = false;
        out.push(jsonString(name), ':');
        renderNode(child, out);
      }
      out.push('}}');
    }
  }
}

// Characters Nix 2.8's toJSON escapes: '"', '\\' and everything below 0x20.
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

function jsonString(text: string): string {
  if (!NEEDS_ESCAPE.test(text)) return `"${text}"`;
  let out = '"';
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (c < 0x20) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

/**
 * Parses an uploaded `.ls` and checks its shape: version 1, every node a regular file
 * (non-negative integer `size`, boolean `executable` if present, integer `narOffset` if
 * present), a symlink (non-empty `target` without NUL) or a directory whose entry names are
 * valid NAR names. Key order does not matter (Nix 2.2x+ writes keys alphabetically);
 * unknown keys are ignored. Raw non-UTF-8 bytes, as Nix 2.8 writes them, are accepted.
 */
export function parseListing(input: string | Uint8Array): NarListing {
  const text = typeof input === 'string' ? input : decodeNarString(input);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ListingFormatError(`listing is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new ListingFormatError('listing must be a JSON object');
  if (value.version !== 1) throw new ListingFormatError(`listing "version" must be 1, got ${JSON.stringify(value.version)}`);
  if (!('root' in value)) throw new ListingFormatError('listing has no "root"');
  return { version: 1, root: parseNode(value.root, '', 0) };
}

function parseNode(value: unknown, path: string, depth: number): NarListingNode {
  const where = path === '' ? 'the root node' : JSON.stringify(path);
  if (depth >= NAR_MAX_DEPTH) throw new ListingFormatError(`listing nests deeper than ${NAR_MAX_DEPTH} levels at ${where}`);
  if (!isObject(value)) throw new ListingFormatError(`listing node ${where} must be an object`);
  switch (value.type) {
    case 'regular': {
      const { size, executable = false, narOffset } = value;
      if (!isCount(size)) throw new ListingFormatError(`listing node ${where}: "size" must be a non-negative integer`);
      if (typeof executable !== 'boolean') throw new ListingFormatError(`listing node ${where}: "executable" must be a boolean`);
      if (narOffset !== undefined && !isCount(narOffset)) {
        throw new ListingFormatError(`listing node ${where}: "narOffset" must be a non-negative integer`);
      }
      return narOffset === undefined ? { type: 'regular', size, executable } : { type: 'regular', size, executable, narOffset };
    }
    case 'symlink': {
      const { target } = value;
      if (typeof target !== 'string' || target === '' || target.includes('\0')) {
        throw new ListingFormatError(`listing node ${where}: "target" must be a non-empty string without NUL`);
      }
      return { type: 'symlink', target };
    }
    case 'directory': {
      const { entries } = value;
      if (!isObject(entries)) throw new ListingFormatError(`listing node ${where}: "entries" must be an object`);
      const names = Object.keys(entries).sort(compareNarStrings);
      const map = new Map<string, NarListingNode>();
      for (const name of names) {
        if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
          throw new ListingFormatError(`listing node ${where} has an invalid entry name ${JSON.stringify(name)}`);
        }
        map.set(name, parseNode(entries[name], path === '' ? name : `${path}/${name}`, depth + 1));
      }
      return { type: 'directory', entries: map };
    }
    default:
      throw new ListingFormatError(`listing node ${where}: "type" must be "regular", "symlink" or "directory"`);
  }
}

/**
 * Finds the node at `path` (`a/b/c`, relative to the root; `''` is the root). Does not
 * follow symlinks. Returns `undefined` when nothing is there.
 */
export function findListingNode(root: NarListingNode, path: string): NarListingNode | undefined {
  let node: NarListingNode | undefined = root;
  for (const segment of path.split('/')) {
    if (segment === '') continue;
    if (node?.type !== 'directory') return undefined;
    node = node.entries.get(segment);
  }
  return node;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

