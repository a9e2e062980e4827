/**
 * A strict, streaming, push-based NAR parser (protocol reference §5).
 *
 * Feed it the uncompressed NAR in chunks of any size, split anywhere: `write(chunk)`, then
 * `end()`. In one pass it computes the NAR's SHA-256 and size, streams the `.ls` listing
 * (if asked, see `listing-writer.ts`) and checks that the archive is canonical, i.e.
 * exactly what Nix's `dumpPath` writes. It rejects everything Nix 2.8 or current Nix would
 * reject (the union of both) plus trailing bytes after the root node.
 *
 * Memory is O(depth) whatever the NAR holds: file contents are never copied or buffered,
 * only hashed and, if asked, handed to a callback as views of the input chunk; the listing
 * leaves as chunks while the NAR is parsed; per open directory only the previous entry
 * name is kept (for the sort check). Tokens split across chunks go through one fixed
 * 8-byte buffer (lengths) and one 4 KiB buffer (strings), never a concatenation. The work
 * is bounded by named limits: {@link NAR_MAX_ENTRIES} nodes and
 * {@link NAR_MAX_LISTING_BYTES} of listing by default, and Nix's own limits on depth,
 * names and symlink targets.
 *
 * Grammar (writer 2.8.0:src/libutil/archive.cc:67-141; strict parser master:archive.cc:178-308):
 *   nar  = str("nix-archive-1") node
 *   node = str("(") str("type") ( regular | symlink | directory ) str(")")
 *   regular   = str("regular") [ str("executable") str("") ] str("contents") u64(n) bytes(n) pad(n)
 *   symlink   = str("symlink") str("target") str(target)
 *   directory = str("directory") { str("entry") str("(") str("name") str(name) str("node") node str(")") }
 *   str(s) = u64(len(s)) s pad(len(s));  u64 = 8 bytes little-endian;  pad = zeros to a multiple of 8
 */
import { Buffer } from 'node:buffer';
import { createHash, type Hash as HashState } from 'node:crypto';
import { NarFormatError, NarLimitError, SizeLimitError } from './errors.js';
import type { Hash } from './hash.js';
import { ListingWriter, type ListingSink } from './listing-writer.js';
import { NAR_MAX_DEPTH, parseListing, type NarListing } from './listing.js';
import { decodeNarString } from './nar-string.js';

/**
 * Default most nodes (files, directories, symlinks, the root included) one NAR may hold.
 * The largest real store paths have a few hundred thousand files (texlive, kernel and
 * language-package trees); two million is far above them, and bounds the per-entry work
 * (parse, listing, later pages) one upload can cause. A NAR of two million empty files is
 * about 400 MB uncompressed and a few MB compressed.
 */
export const NAR_MAX_ENTRIES = 2_000_000;

/**
 * Default largest `.ls` listing one NAR may produce, in bytes. A listing entry takes about
 * 60–120 bytes, so {@link NAR_MAX_ENTRIES} real entries fit well below this; the limit is
 * what bounds names and targets that escape to six bytes per byte (`\u0001`).
 */
export const NAR_MAX_LISTING_BYTES = 256 * 1024 * 1024;

/** Longest entry name Nix accepts (master:src/libutil/archive.cc:190, `narMaxName`). */
export const NAR_MAX_NAME_LENGTH = 255;

/** Longest symlink target Nix accepts (master:src/libutil/archive.cc:191, `narMaxTarget`). */
export const NAR_MAX_TARGET_LENGTH = 4095;

/** Called with each piece of a regular file's contents, in order. */
export type NarFileContentsHandler = (
  /** Path of the file inside the NAR, `/`-separated, `''` for a NAR that is a single file. */
  path: string,
  /** Offset of `bytes` within the file. */
  offset: number,
  /** A view of the input chunk: copy it if you keep it past the call. */
  bytes: Uint8Array,
  /** Total size of the file. The last call for a file has `offset + bytes.length === size`. */
  size: number,
) => void;

/** Options of {@link NarParser}. */
export interface NarParserOptions {
  /**
   * Receives file contents as they stream past. Every regular file gets at least one call
   * (an empty file gets one call with empty `bytes`). Call {@link NarParser.stop} from it to
   * stop parsing, e.g. once the one file you wanted is complete.
   */
  onFileContents?: NarFileContentsHandler;
  /** Rejects the NAR with a {@link SizeLimitError} as soon as it grows past this many bytes. */
  maxSize?: number;
  /**
   * Receives the `.ls` listing (offsets into this NAR) as it is written, in chunks of up to
   * 64 KiB that belong to the receiver; the last one comes from `end()`. Without it no
   * listing is produced.
   */
  onListing?: ListingSink;
  /** Most nodes the NAR may hold (default {@link NAR_MAX_ENTRIES}); more is a {@link NarLimitError}. */
  maxEntries?: number;
  /** Most listing bytes (default {@link NAR_MAX_LISTING_BYTES}); more is a {@link NarLimitError}. */
  maxListingBytes?: number;
}

/** What a successful parse yields. */
export interface NarParseResult {
  /** SHA-256 of the whole NAR, as in `NarHash`. */
  readonly narHash: Hash;
  /** Length of the NAR in bytes, as in `NarSize`. */
  readonly narSize: number;
  /** Number of nodes (files, directories, symlinks), the root included. */
  readonly entryCount: number;
  /** Bytes of listing handed to `onListing` (0 without one). */
  readonly listingSize: number;
}

// Lexer states: what the next input bytes are.
const LEX_LENGTH = 0; // the u64 length of a string, or the size of a file's contents
const LEX_STRING = 1; // the bytes of a string
const LEX_CONTENTS = 2; // a file's contents
const LEX_PADDING = 3; // zero padding after a string or contents
const LEX_DONE = 4; // the root node is closed; nothing may follow

// Grammar states: which token the parser expects next.
const X_MAGIC = 0;
const X_NODE_OPEN = 1;
const X_TYPE_TAG = 2;
const X_TYPE = 3;
const X_REGULAR_TAG = 4;
const X_EXECUTABLE_VALUE = 5;
const X_CONTENTS_TAG = 6;
const X_CONTENTS = 7;
const X_NODE_CLOSE = 8;
const X_TARGET_TAG = 9;
const X_TARGET = 10;
const X_DIRECTORY_TAG = 11;
const X_ENTRY_OPEN = 12;
const X_NAME_TAG = 13;
const X_NAME = 14;
const X_NODE_TAG = 15;
const X_ENTRY_CLOSE = 16;
const X_DONE = 17;

const EXPECTED: readonly string[] = [
  "the NAR magic 'nix-archive-1'",
  "'('",
  "'type'",
  'a node type',
  "'executable' or 'contents'",
  'the value of the executable marker',
  "'contents'",
  'the size of the file contents',
  "')'",
  "'target'",
  'the symlink target',
  "'entry' or ')'",
  "'('",
  "'name'",
  'an entry name',
  "'node'",
  "')'",
  'nothing',
];

/** Nix limits, enforced since 2.35 (master:src/libutil/archive.cc:185-192). */
const MAX_TAG = 32;
const MAX_NAME = NAR_MAX_NAME_LENGTH;
const MAX_TARGET = NAR_MAX_TARGET_LENGTH;
const MAX_LENGTH: readonly number[] = EXPECTED.map((_, x) =>
  x === X_MAGIC ? 13 : x === X_EXECUTABLE_VALUE ? 0 : x === X_NAME ? MAX_NAME : x === X_TARGET ? MAX_TARGET : MAX_TAG,
);

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const T_MAGIC = ascii('nix-archive-1');
const T_OPEN = ascii('(');
const T_CLOSE = ascii(')');
const T_TYPE = ascii('type');
const T_REGULAR = ascii('regular');
const T_SYMLINK = ascii('symlink');
const T_DIRECTORY = ascii('directory');
const T_EXECUTABLE = ascii('executable');
const T_CONTENTS = ascii('contents');
const T_TARGET = ascii('target');
const T_ENTRY = ascii('entry');
const T_NAME = ascii('name');
const T_NODE = ascii('node');

interface DirectoryFrame {
  path: string;
  depth: number;
  /** Raw bytes of the previous entry name (first `prevLength` bytes), for the sort check. */
  prevName: Uint8Array;
  /** -1 before the first entry. */
  prevLength: number;
}

/**
 * Streaming NAR parser. See the module documentation for what it checks.
 *
 * ```ts
 * const parser = new NarParser({ onListing: (chunk) => listingChunks.push(chunk) });
 * for await (const chunk of stream) parser.write(chunk);
 * const { narHash, narSize } = parser.end();
 * ```
 * Every error is a {@link NarFormatError} (with the byte offset) or a {@link SizeLimitError};
 * after an error the parser is dead and rethrows it.
 */
export class NarParser {
  private readonly onFileContents: NarFileContentsHandler | undefined;
  private readonly maxSize: number;
  private readonly maxEntries: number;
  private readonly listing: ListingWriter | undefined;
  private entryCount = 0;
  private readonly hash: HashState = createHash('sha256');

  /** Bytes consumed before the current chunk. */
  private base = 0;
  private lex = LEX_LENGTH;
  private expect = X_MAGIC;
  private failure: Error | undefined;
  private stopped = false;

  /** Offset where the current token (its length field) starts. */
  private tokenStart = 0;
  private readonly lengthBuf = new Uint8Array(8);
  private lengthFill = 0;
  private readonly stringBuf = new Uint8Array(MAX_TARGET + 1);
  /** Views of `stringBuf` by length, created once, so tokens cost no allocation. */
  private readonly stringViews: Uint8Array[] = [];
  private stringLength = 0;
  private stringFill = 0;
  private padding = 0;
  private contentsRemaining = 0;

  private readonly frames: DirectoryFrame[] = [];
  /** Path and depth of the node being parsed (for errors and the callback). */
  private path = '';
  private depth = 0;
  /** The regular file being parsed: its executable bit and, once known, its size. */
  private executable = false;
  private fileSize = 0;
  private entryName = '';

  constructor(options: NarParserOptions = {}) {
    this.onFileContents = options.onFileContents;
    this.maxSize = options.maxSize ?? Number.MAX_SAFE_INTEGER;
    this.maxEntries = options.maxEntries ?? NAR_MAX_ENTRIES;
    this.listing = options.onListing && new ListingWriter(options.onListing, options.maxListingBytes ?? NAR_MAX_LISTING_BYTES);
  }

  /** Bytes written so far (whole chunks, also after {@link stop}). */
  get bytesConsumed(): number {
    return this.base;
  }

  /** Whether the root node is complete (only `end()` may follow). */
  get complete(): boolean {
    return this.lex === LEX_DONE;
  }

  /** Whether {@link stop} was called. */
  get isStopped(): boolean {
    return this.stopped;
  }

  /**
   * Stops parsing: later `write`s are ignored, and `end()` throws. For readers that got
   * what they wanted (one file's contents) and do not need the rest.
   */
  stop(): void {
    this.stopped = true;
  }

  /** Parses the next chunk. The chunk is not retained after the call returns. */
  write(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw this.failure;
    if (this.stopped) return;
    if (this.base + chunk.length > this.maxSize) {
      this.failure = new SizeLimitError(`NAR exceeds the maximum size of ${this.maxSize} bytes`, this.maxSize);
      throw this.failure;
    }
    this.hash.update(chunk);
    try {
      this.consume(chunk);
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
    this.base += chunk.length;
  }

  /** Finishes the parse: throws if the NAR is incomplete, else returns hash, size and counts. */
  end(): NarParseResult {
    if (this.failure !== undefined) throw this.failure;
    if (this.stopped) throw new Error('NarParser.end() called after stop()');
    if (this.lex !== LEX_DONE) {
      const what = this.lex === LEX_CONTENTS ? `${this.contentsRemaining} more bytes of file contents` : EXPECTED[this.expect];
      this.failure = new NarFormatError(`NAR is truncated: input ended while expecting ${what}`, this.base, this.path);
      throw this.failure;
    }
    try {
      this.listing?.end();
    } catch (err) {
      this.failure = err as Error;
      throw err;
    }
    const digest = this.hash.digest();
    return {
      narHash: { algorithm: 'sha256', digest: new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength) },
      narSize: this.base,
      entryCount: this.entryCount,
      listingSize: this.listing?.size ?? 0,
    };
  }

  private consume(chunk: Uint8Array): void {
    const len = chunk.length;
    let pos = 0;
    // `stopped` may be set by the contents callback.
    while (pos < len && !this.stopped) {
      switch (this.lex) {
        case LEX_LENGTH: {
          let value: number;
          if (this.lengthFill === 0 && len - pos >= 8) {
            this.tokenStart = this.base + pos;
            value = readU64(chunk, pos);
            pos += 8;
          } else {
            if (this.lengthFill === 0) this.tokenStart = this.base + pos;
            const take = Math.min(8 - this.lengthFill, len - pos);
            this.lengthBuf.set(chunk.subarray(pos, pos + take), this.lengthFill);
            this.lengthFill += take;
            pos += take;
            if (this.lengthFill < 8) break;
            this.lengthFill = 0;
            value = readU64(this.lengthBuf, 0);
          }
          this.onLength(value, this.base + pos);
          break;
        }
        case LEX_STRING: {
          // Strings are short (at most 4095 bytes, usually a few): copying them into one
          // reused buffer is cheaper than allocating a view of the chunk for each token.
          const take = Math.min(this.stringLength - this.stringFill, len - pos);
          const buf = this.stringBuf;
          let fill = this.stringFill;
          for (const end = pos + take; pos < end; pos++) buf[fill++] = chunk[pos];
          this.stringFill = fill;
          if (fill === this.stringLength) {
            this.stringFill = 0;
            this.onString(this.stringView(fill));
            this.startPadding(fill);
          }
          break;
        }
        case LEX_CONTENTS: {
          const take = Math.min(this.contentsRemaining, len - pos);
          if (this.onFileContents !== undefined) {
            this.onFileContents(this.path, this.fileSize - this.contentsRemaining, chunk.subarray(pos, pos + take), this.fileSize);
          }
          pos += take;
          this.contentsRemaining -= take;
          if (this.contentsRemaining === 0) this.startPadding(this.fileSize);
          break;
        }
        case LEX_PADDING: {
          const start = pos;
          const end = Math.min(pos + this.padding, len);
          for (; pos < end; pos++) {
            if (chunk[pos] !== 0) throw this.error('padding byte is not zero', this.base + pos);
          }
          this.padding -= end - start;
          if (this.padding === 0) this.lex = this.afterPadding();
          break;
        }
        default:
          throw this.error('unexpected data after the end of the NAR', this.base + pos);
      }
    }
  }

  /** A u64 was read at `tokenStart`; `next` is the offset just after it. */
  private onLength(value: number, next: number): void {
    if (this.expect === X_CONTENTS) {
      if (!Number.isSafeInteger(value)) throw this.error(`file size ${value} is impossibly large`);
      // A file that cannot fit is refused before any of it is read.
      if (next + value > this.maxSize) {
        throw new SizeLimitError(`NAR exceeds the maximum size of ${this.maxSize} bytes (file of ${value} bytes)`, this.maxSize);
      }
      this.fileSize = value;
      this.listing?.regular(value, this.executable, next);
      this.contentsRemaining = value;
      this.expect = X_NODE_CLOSE;
      if (value === 0) {
        if (this.onFileContents !== undefined) this.onFileContents(this.path, 0, this.stringView(0), 0);
        this.startPadding(0);
      } else {
        this.lex = LEX_CONTENTS;
      }
      return;
    }
    if (value > MAX_LENGTH[this.expect]) throw this.tooLong(value);
    this.stringLength = value;
    if (value === 0) {
      this.onString(this.stringView(0));
      this.startPadding(0);
    } else {
      this.lex = LEX_STRING;
    }
  }

  private stringView(length: number): Uint8Array {
    return (this.stringViews[length] ??= this.stringBuf.subarray(0, length));
  }

  private startPadding(length: number): void {
    this.padding = (8 - (length % 8)) % 8;
    this.lex = this.padding > 0 ? LEX_PADDING : this.afterPadding();
  }

  private afterPadding(): number {
    return this.expect === X_DONE ? LEX_DONE : LEX_LENGTH;
  }

  private tooLong(length: number): NarFormatError {
    switch (this.expect) {
      case X_MAGIC:
        return this.error('not a Nix archive (bad magic)');
      case X_EXECUTABLE_VALUE:
        return this.error('executable marker has a non-empty value');
      case X_NAME:
        return this.error(`entry name is ${length} bytes long, more than the limit of ${MAX_NAME}`);
      case X_TARGET:
        return this.error(`symlink target is ${length} bytes long, more than the limit of ${MAX_TARGET}`);
      default:
        return this.error(`expected ${EXPECTED[this.expect]}, got a ${length}-byte string (tags are at most ${MAX_TAG} bytes)`);
    }
  }

  /**
   * A complete string token; `s` is only valid during the call. Runs before the token's
   * padding is consumed, so grammar errors point at the token, not past it.
   */
  private onString(s: Uint8Array): void {
    switch (this.expect) {
      case X_MAGIC:
        if (!equal(s, T_MAGIC)) throw this.error('not a Nix archive (bad magic)');
        this.expect = X_NODE_OPEN;
        return;
      case X_NODE_OPEN:
        this.expectTag(s, T_OPEN);
        this.expect = X_TYPE_TAG;
        return;
      case X_TYPE_TAG:
        this.expectTag(s, T_TYPE);
        this.expect = X_TYPE;
        return;
      case X_TYPE:
        this.onType(s);
        return;
      case X_REGULAR_TAG:
        if (equal(s, T_EXECUTABLE)) {
          this.executable = true;
          this.expect = X_EXECUTABLE_VALUE;
        } else if (equal(s, T_CONTENTS)) {
          this.expect = X_CONTENTS;
        } else {
          throw this.unexpected(s);
        }
        return;
      case X_EXECUTABLE_VALUE:
        // Only the empty string gets here: longer values fail the length limit of 0.
        this.expect = X_CONTENTS_TAG;
        return;
      case X_CONTENTS_TAG:
        this.expectTag(s, T_CONTENTS);
        this.expect = X_CONTENTS;
        return;
      case X_NODE_CLOSE:
        this.expectTag(s, T_CLOSE);
        this.closeNode();
        return;
      case X_TARGET_TAG:
        this.expectTag(s, T_TARGET);
        this.expect = X_TARGET;
        return;
      case X_TARGET:
        if (s.length === 0) throw this.error('symlink target is empty');
        if (s.includes(0)) throw this.error('symlink target contains a NUL byte');
        this.listing?.symlink(s);
        this.expect = X_NODE_CLOSE;
        return;
      case X_DIRECTORY_TAG:
        if (equal(s, T_ENTRY)) {
          this.expect = X_ENTRY_OPEN;
        } else if (equal(s, T_CLOSE)) {
          this.frames.pop();
          this.listing?.closeDirectory();
          this.closeNode();
        } else {
          throw this.unexpected(s);
        }
        return;
      case X_ENTRY_OPEN:
        this.expectTag(s, T_OPEN);
        this.expect = X_NAME_TAG;
        return;
      case X_NAME_TAG:
        this.expectTag(s, T_NAME);
        this.expect = X_NAME;
        return;
      case X_NAME:
        this.onName(s);
        this.expect = X_NODE_TAG;
        return;
      case X_NODE_TAG: {
        this.expectTag(s, T_NODE);
        const frame = this.frames[this.frames.length - 1];
        this.path = frame.path === '' ? this.entryName : `${frame.path}/${this.entryName}`;
        this.depth = frame.depth + 1;
        if (this.depth >= NAR_MAX_DEPTH) {
          throw this.error(`directory nesting exceeds the maximum depth of ${NAR_MAX_DEPTH}`);
        }
        this.expect = X_NODE_OPEN;
        return;
      }
      case X_ENTRY_CLOSE: {
        this.expectTag(s, T_CLOSE);
        const frame = this.frames[this.frames.length - 1];
        this.path = frame.path;
        this.depth = frame.depth;
        this.expect = X_DIRECTORY_TAG;
        return;
      }
      default:
        throw this.unexpected(s);
    }
  }

  private onType(s: Uint8Array): void {
    if (++this.entryCount > this.maxEntries) {
      throw new NarLimitError(
        'maxEntries',
        `the NAR holds more than ${this.maxEntries} files, directories and symlinks, the most this cache accepts`,
        this.maxEntries,
      );
    }
    if (equal(s, T_REGULAR)) {
      this.executable = false;
      this.fileSize = 0;
      this.expect = X_REGULAR_TAG;
    } else if (equal(s, T_SYMLINK)) {
      this.expect = X_TARGET_TAG;
    } else if (equal(s, T_DIRECTORY)) {
      this.listing?.openDirectory();
      this.frames.push({ path: this.path, depth: this.depth, prevName: new Uint8Array(MAX_NAME), prevLength: -1 });
      this.expect = X_DIRECTORY_TAG;
    } else {
      throw this.error(`unknown node type ${show(s)} (expected 'regular', 'symlink' or 'directory')`);
    }
  }

  private onName(s: Uint8Array): void {
    if (s.length === 0) throw this.error('entry name is empty');
    if (s.includes(0x2f)) throw this.error(`entry name ${show(s)} contains '/'`);
    if (s.includes(0)) throw this.error(`entry name ${show(s)} contains a NUL byte`);
    if ((s.length === 1 && s[0] === 0x2e) || (s.length === 2 && s[0] === 0x2e && s[1] === 0x2e)) {
      throw this.error(`entry name ${show(s)} is not allowed`);
    }
    const frame = this.frames[this.frames.length - 1];
    if (frame.prevLength >= 0) {
      const order = compareBytes(s, frame.prevName, frame.prevLength);
      if (order <= 0) {
        const prev = frame.prevName.subarray(0, frame.prevLength);
        throw this.error(
          order === 0 ? `duplicate entry name ${show(s)}` : `directory entries are not sorted: ${show(s)} comes after ${show(prev)}`,
        );
      }
    }
    frame.prevName.set(s);
    frame.prevLength = s.length;
    this.entryName = decodeName(s);
    this.listing?.entry(s);
  }

  /** The current node's closing `)` was read. */
  private closeNode(): void {
    this.expect = this.frames.length === 0 ? X_DONE : X_ENTRY_CLOSE;
  }

  private expectTag(s: Uint8Array, tag: Uint8Array): void {
    if (!equal(s, tag)) throw this.unexpected(s);
  }

  private unexpected(s: Uint8Array): NarFormatError {
    return this.error(`expected ${EXPECTED[this.expect]}, got ${show(s)}`);
  }

  private error(message: string, offset = this.tokenStart): NarFormatError {
    return new NarFormatError(message, offset, this.path);
  }
}

/** {@link parseNar}'s result: the parse result with the listing, as bytes and parsed. */
export interface NarParseResultWithListing extends NarParseResult {
  /** The `.ls` bytes, exactly as Nix 2.8 writes them. */
  readonly listingBytes: Uint8Array;
  /** The same listing, parsed. */
  readonly listing: NarListing;
}

/**
 * Parses a whole NAR held in memory (tests, small files) and returns its listing too. For
 * uploads use {@link NarParser} or `createNarVerifier`, which never hold a listing.
 */
export function parseNar(nar: Uint8Array, options: Omit<NarParserOptions, 'onListing'> = {}): NarParseResultWithListing {
  const chunks: Uint8Array[] = [];
  const parser = new NarParser({ ...options, onListing: (chunk) => chunks.push(chunk) });
  parser.write(nar);
  const result = parser.end();
  const listingBytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  return { ...result, listingBytes, listing: parseListing(listingBytes) };
}

/** Little-endian u64; above 2^53 the result is approximate, which only error paths see. */
function readU64(bytes: Uint8Array, pos: number): number {
  const lo = (bytes[pos] | (bytes[pos + 1] << 8) | (bytes[pos + 2] << 16)) + bytes[pos + 3] * 0x1000000;
  const hi = (bytes[pos + 4] | (bytes[pos + 5] << 8) | (bytes[pos + 6] << 16)) + bytes[pos + 7] * 0x1000000;
  return hi * 0x100000000 + lo;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Compares `a` with the first `bLength` bytes of `b`, bytewise. */
function compareBytes(a: Uint8Array, b: Uint8Array, bLength: number): number {
  const n = Math.min(a.length, bLength);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - bLength;
}

/** `decodeNarString` with a fast path for short ASCII names (no Buffer allocation). */
function decodeName(s: Uint8Array): string {
  if (s.length <= 64) {
    let ascii = true;
    for (let i = 0; i < s.length; i++) {
      if (s[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, s as unknown as number[]);
  }
  return decodeNarString(s);
}

/** A token for an error message: JSON-quoted, truncated, bytes escaped. */
function show(s: Uint8Array): string {
  const text = JSON.stringify(decodeNarString(s.subarray(0, 64)));
  return s.length > 64 ? `${text}…` : text;
}
