/**
 * Serialises a file tree into a canonical NAR, byte for byte what `nix-store --dump` writes
 * for the same tree (2.8.0:src/libutil/archive.cc:67-141): entries sorted bytewise,
 * `executable` before `contents`, zero padding. Used by tests, fixtures and benchmarks; the
 * server itself never builds NARs.
 */
import { Buffer } from 'node:buffer';
import { NarFormatError } from './errors.js';
import { NAR_MAX_DEPTH } from './listing.js';
import { encodeNarString } from './nar-string.js';

/** A regular file. `contents` may be given as several chunks (e.g. one buffer repeated, for big benchmark files). */
export interface NarTreeRegular {
  readonly type: 'regular';
  readonly contents: Uint8Array | string | readonly Uint8Array[];
  readonly executable?: boolean;
}

/** A symbolic link. The target is a NAR string (see `nar-string.ts`). */
export interface NarTreeSymlink {
  readonly type: 'symlink';
  readonly target: string;
}

/** A directory. Entry order does not matter: the writer sorts. */
export interface NarTreeDirectory {
  readonly type: 'directory';
  readonly entries: ReadonlyMap<string, NarTree> | Readonly<Record<string, NarTree>>;
}

/** Input of {@link writeNar}. */
export type NarTree = NarTreeRegular | NarTreeSymlink | NarTreeDirectory;

const CHUNK = 64 * 1024;
const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

/**
 * Yields the NAR of `tree` in chunks of about 64 KiB; large file contents are yielded as
 * given, without copying. Throws a {@link NarFormatError} for a tree no canonical NAR can
 * represent (bad names or targets, nesting of 64 levels or more).
 */
export function* narChunks(tree: NarTree): Generator<Uint8Array, void, undefined> {
  const out = new ChunkBuffer();
  yield* out.str(utf8('nix-archive-1'));
  yield* writeNode(tree, out, 0, '');
  yield* out.flush();
}

/** The whole NAR of `tree` in one buffer. */
export function writeNar(tree: NarTree): Uint8Array {
  const chunks = [...narChunks(tree)];
  const all = Buffer.concat(chunks);
  return new Uint8Array(all.buffer, all.byteOffset, all.byteLength);
}

function* writeNode(node: NarTree, out: ChunkBuffer, depth: number, path: string): Generator<Uint8Array, void, undefined> {
  if (depth >= NAR_MAX_DEPTH) throw new NarFormatError(`nesting reaches the maximum depth of ${NAR_MAX_DEPTH}`, out.offset, path);
  yield* out.tags('(', 'type');
  switch (node.type) {
    case 'regular': {
      yield* out.tags('regular');
      if (node.executable === true) yield* out.tags('executable', '');
      yield* out.tags('contents');
      const parts = typeof node.contents === 'string' ? [utf8(node.contents)] : node.contents instanceof Uint8Array ? [node.contents] : node.contents;
      yield* out.contents(parts);
      break;
    }
    case 'symlink': {
      const target = encodeNarString(node.target);
      if (target.length === 0 || target.includes(0) || target.length > 4095) {
        throw new NarFormatError('symlink target must be 1 to 4095 bytes without NUL', out.offset, path);
      }
      yield* out.tags('symlink', 'target');
      yield* out.str(target);
      break;
    }
    case 'directory': {
      yield* out.tags('directory');
      const entries = node.entries instanceof Map ? [...node.entries] : Object.entries(node.entries as Record<string, NarTree>);
      const sorted = entries
        .map(([name, child]) => ({ name, bytes: encodeNarString(name), child }))
        .sort((a, b) => Buffer.compare(a.bytes, b.bytes));
      for (let i = 0; i < sorted.length; i++) {
        const { name, bytes, child } = sorted[i];
        if (bytes.length === 0 || bytes.length > 255 || name === '.' || name === '..' || bytes.includes(0x2f) || bytes.includes(0)) {
          throw new NarFormatError(`invalid entry name ${JSON.stringify(name)}`, out.offset, path);
        }
        if (i > 0 && Buffer.compare(sorted[i - 1].bytes, bytes) === 0) {
          throw new NarFormatError(`two entries are both named ${JSON.stringify(name)} once encoded`, out.offset, path);
        }
        yield* out.tags('entry', '(', 'name');
        yield* out.str(bytes);
        yield* out.tags('node');
        yield* writeNode(child, out, depth + 1, path === '' ? name : `${path}/${name}`);
        yield* out.tags(')');
      }
      break;
    }
  }
  yield* out.tags(')');
}

/** Accumulates small tokens into 64 KiB chunks; passes big contents through. */
class ChunkBuffer {
  private buf = Buffer.alloc(CHUNK);
  private fill = 0;
  /** Bytes emitted so far (flushed or buffered). */
  offset = 0;

  *tags(...tags: string[]): Generator<Uint8Array, void, undefined> {
    for (const tag of tags) yield* this.str(utf8(tag));
  }

  *str(bytes: Uint8Array): Generator<Uint8Array, void, undefined> {
    yield* this.contents([bytes]);
  }

  *contents(parts: readonly Uint8Array[]): Generator<Uint8Array, void, undefined> {
    const size = parts.reduce((n, p) => n + p.length, 0);
    yield* this.u64(size);
    for (const part of parts) {
      if (part.length >= CHUNK / 4) {
        yield* this.flush();
        this.offset += part.length;
        yield part;
      } else {
        yield* this.raw(part);
      }
    }
    yield* this.raw(new Uint8Array((8 - (size % 8)) % 8));
  }

  *flush(): Generator<Uint8Array, void, undefined> {
    if (this.fill === 0) return;
    const chunk = this.buf.subarray(0, this.fill);
    this.buf = Buffer.alloc(CHUNK);
    this.fill = 0;
    yield chunk;
  }

  private *u64(n: number): Generator<Uint8Array, void, undefined> {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(n % 0x100000000, 0);
    b.writeUInt32LE(Math.floor(n / 0x100000000), 4);
    yield* this.raw(b);
  }

  private *raw(bytes: Uint8Array): Generator<Uint8Array, void, undefined> {
    if (this.fill + bytes.length > CHUNK) yield* this.flush();
    this.buf.set(bytes, this.fill);
    this.fill += bytes.length;
    this.offset += bytes.length;
  }
}
