/**
 * `.ls` NAR listings (protocol reference §6): what files a store path holds, where each
 * file's bytes start in the uncompressed NAR, without the NAR itself.
 *
 * Names and symlink targets are NAR strings (see `nar-string.ts`): arbitrary bytes, with
 * non-UTF-8 bytes escaped as lone surrogates. Directory entries are a `Map` in byte order,
 * because a plain object would move integer-like names ("9", "10") to the front.
 */
import { Buffer } from 'node:buffer';
import { ListingFormatError } from './errors.js';
import { ListingWriter } from './listing-writer.js';
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
 * Renders a listing byte for byte as Nix 2.8 writes it (see `listing-writer.ts` for the
 * rules). The NAR verifier streams the same bytes without building a tree; this is for
 * listings already in memory.
 */
export function renderListing(listing: NarListing): Uint8Array {
  const chunks: Uint8Array[] = [];
  const writer = new ListingWriter((chunk) => chunks.push(chunk));
  renderNode(listing.root, writer);
  writer.end();
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function renderNode(node: NarListingNode, writer: ListingWriter): void {
  switch (node.type) {
    case 'regular':
      writer.regular(node.size, node.executable, node.narOffset ?? 0);
      return;
    case 'symlink':
      writer.symlink(encodeNarString(node.target));
      return;
    case 'directory':
      writer.openDirectory();
      for (const [name, child] of node.entries) {
        writer.entry(encodeNarString(name));
        renderNode(child, writer);
      }
      writer.closeDirectory();
  }
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

