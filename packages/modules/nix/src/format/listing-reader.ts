/**
 * Reading one node of a `.ls` listing out of its bytes as they stream by, in memory bounded
 * by the page asked for, never by the listing: a stored listing may describe millions of
 * files (up to `NAR_MAX_LISTING_BYTES`), and `parseListing` would build all of them as
 * objects (a 55 MB listing of one directory of a million files grows the heap by gigabytes).
 *
 * {@link ListingReader} is fed the listing's chunks and answers what is at one path: a file's
 * or symlink's facts, or for a directory a window of its entries (`offset`, `limit`) in the
 * listing's (bytewise) order, how many entries it has, and how many regular files and bytes
 * its subtree holds. It tokenizes JSON byte by byte and keeps only:
 * - a stack of open containers (at most {@link MAX_CONTAINERS}, as a NAR nests at most
 *   `NAR_MAX_DEPTH` levels);
 * - the string or number being read (at most {@link MAX_TOKEN_BYTES});
 * - the entries of the window.
 * Subtrees off the path and outside the wanted node are skipped by counting brackets, with
 * no token decoded. Reading stops as soon as the wanted node has closed.
 *
 * The listings the cache stores are the ones it computed (`ListingWriter`), but the reader
 * accepts any key order and whitespace, like `parseListing`. Strings are NAR strings: raw
 * bytes, with `\u00xx` escapes standing for single bytes, decoded with `decodeNarString`.
 */
import { ListingFormatError } from './errors.js';
import { NAR_MAX_DEPTH } from './listing.js';
import { decodeNarString, encodeNarString } from './nar-string.js';

/** Open JSON containers the reader accepts: document, then per level a node and its entries. */
export const MAX_CONTAINERS = 2 * NAR_MAX_DEPTH + 4;
/** Longest string or number token decoded (a symlink target escapes to at most 6 × 4095 bytes). */
export const MAX_TOKEN_BYTES = 32 * 1024;

/** One entry of a directory, as a listing describes it. */
export interface ListingEntry {
  readonly name: string;
  readonly type: 'regular' | 'symlink' | 'directory';
  /** Regular files: their size. */
  readonly size: number;
  readonly executable: boolean;
  readonly narOffset?: number;
  /** Symlinks: their target. */
  readonly target?: string;
  /** Directories: regular files in the subtree (a regular file counts itself). */
  readonly files: number;
  /** Directories: bytes of those files. */
  readonly bytes: number;
}

/** What {@link ListingReader} found at the path it was asked about. */
export type ListingLookup =
  | { readonly found: false }
  | {
      readonly found: true;
      readonly node: ListingEntry;
      /** For a directory: the entries of the window, in the listing's order. */
      readonly entries: readonly ListingEntry[];
      /** For a directory: how many entries it has. */
      readonly entryCount: number;
    };

export interface ListingWindow {
  /** Entries to pass over first. */
  readonly offset: number;
  /** Entries to return at most. */
  readonly limit: number;
}

type Role = 'document' | 'node' | 'entries' | 'skip';
/** Where a node lies relative to the wanted one. */
type Relation = 'ancestor' | 'wanted' | 'child' | 'inside';

interface Frame {
  role: Role;
  isArray: boolean;
  // Nodes only:
  relation?: Relation;
  depth?: number;
  name?: string;
  type?: string;
  size?: number;
  executable?: boolean;
  narOffset?: number;
  target?: string;
  files?: number;
  bytes?: number;
  /** Entries frames of an ancestor: whether the next segment was found among them. */
  found?: boolean;
}

/** The key of an entries object: the entry's name, left undecoded in the token buffer. */
const ENTRY = '\u0000entry';

const words = (...list: string[]) => list.map((w) => [w, Uint8Array.from(w, (c) => c.charCodeAt(0))] as const);
const KEYS = words('type', 'size', 'narOffset', 'executable', 'target', 'entries', 'root', 'version');
const TYPES = words('regular', 'directory', 'symlink');

const enum State {
  /** A value is expected (after `:` or `[` or `,` in an array). */
  Value,
  /** Inside an object: a key or `}` is expected. */
  Key,
  /** After a key: `:` is expected. */
  Colon,
  /** After a value: `,` or the container's end is expected. */
  Next,
  /** Inside a string (key or value). */
  String,
  /** After a backslash in a string. */
  Escape,
  /** Inside `\uXXXX`. */
  Unicode,
  /** Inside a number or literal. */
  Bare,
  /** Skipping a whole value off the path (brackets counted, strings passed over). */
  Skip,
  /** The wanted node closed, or cannot exist: nothing more is read. */
  Done,
}

const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const isBare = (c: number) => (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);

/**
 * Reads a listing for one path (`''` is the root, `a/b` a node inside), in chunks:
 * `write` each chunk until it returns true (the answer is complete), then `result()`.
 */
export class ListingReader {
  private state = State.Value;
  private readonly stack: Frame[] = [];
  /** The wanted path's names, as the bytes a listing spells them with. */
  private readonly segments: Uint8Array[];
  private readonly window: ListingWindow;

  private token = new Uint8Array(256);
  private tokenLength = 0;
  /** Whether the string being read is an object's key. */
  private readingKey = false;
  private unicode = 0;
  private unicodeDigits = 0;
  /** Key whose value comes next, in the innermost object. */
  private key: string | null = null;

  private skipDepth = 0;
  private skipInString = false;
  private skipEscape = false;

  private answer: ListingLookup = { found: false };
  private readonly entries: ListingEntry[] = [];
  private entryCount = 0;
  private sawDocument = false;
  private version: unknown = undefined;
  private sawRoot = false;

  /**
   * @param options.wholeDocument read and check the whole document (version, root, nothing
   *   after it) instead of stopping once the answer is known: for checking an upload.
   */
  constructor(
    path: string,
    window: ListingWindow = { offset: 0, limit: 0 },
    private readonly options: { wholeDocument?: boolean } = {},
  ) {
    this.segments = path
      .split('/')
      .filter((s) => s !== '')
      .map(encodeNarString);
    this.window = window;
  }

  /** True once the answer is complete (the rest of the listing need not be read). */
  get done(): boolean {
    return this.state === State.Done;
  }

  /** Feeds the next bytes of the listing; returns {@link done}. */
  write(chunk: Uint8Array): boolean {
    for (let i = 0; i < chunk.length && this.state !== State.Done; i++) {
      const c = chunk[i]!;
      switch (this.state) {
        case State.Skip:
          i = this.skip(chunk, i) - 1;
          break;
        case State.String:
          if (c === 0x22) this.endString();
          else if (c === 0x5c) this.state = State.Escape;
          else i = this.stringRun(chunk, i) - 1;
          break;
        case State.Escape:
          this.escape(c);
          break;
        case State.Unicode:
          this.unicodeDigit(c);
          break;
        case State.Bare:
          if (isBare(c)) this.push(c);
          else {
            this.endBare();
            i--; // the byte after a number belongs to the next state
          }
          break;
        default:
          if (!isSpace(c)) this.structural(c, chunk, i);
      }
    }
    return this.done;
  }

  /** The listing ended: checks it was complete and returns the answer. */
  end(): ListingLookup {
    if (this.state === State.Bare) this.endBare();
    if (this.state !== State.Done && (this.stack.length > 0 || !this.sawDocument)) throw new ListingFormatError('the listing ends early');
    // Read to its end: the whole document can be judged.
    if (this.stack.length === 0 && this.sawDocument) {
      if (this.version !== 1) throw new ListingFormatError(`listing "version" must be 1, got ${JSON.stringify(this.version ?? null)}`);
      if (!this.sawRoot) throw new ListingFormatError('listing has no "root"');
    }
    return this.result();
  }

  result(): ListingLookup {
    if (!this.answer.found) return this.answer;
    return { ...this.answer, entries: this.entries, entryCount: this.entryCount };
  }

  private structural(c: number, chunk: Uint8Array, i: number): void {
    const top = this.stack[this.stack.length - 1];
    switch (this.state) {
      case State.Value:
        this.value(c, chunk, i);
        return;
      case State.Key:
        if (c === 0x22) {
          this.startString(true);
          return;
        }
        if (c === 0x7d && top && !top.isArray && this.key === null) {
          this.close();
          return;
        }
        break;
      case State.Colon:
        if (c === 0x3a) {
          this.state = State.Value;
          return;
        }
        break;
      case State.Next:
        if (c === 0x2c && top) {
          this.state = top.isArray ? State.Value : State.Key;
          return;
        }
        if (top && c === (top.isArray ? 0x5d : 0x7d)) {
          this.close();
          return;
        }
        break;
    }
    throw new ListingFormatError(`the listing is not valid JSON (unexpected ${JSON.stringify(String.fromCharCode(c))})`);
  }

  /** A value starts: decide what it is to the listing before reading it. */
  private value(c: number, chunk: Uint8Array, i: number): void {
    const parent = this.stack[this.stack.length - 1];
    const key = this.key;
    const role = this.roleOfValue(parent, key);
    if (role === 'skip' && (c === 0x7b || c === 0x5b)) {
      // The opening bracket is this byte: the skip starts one level in.
      this.key = null;
      this.skipDepth = 1;
      this.skipInString = false;
      this.skipEscape = false;
      this.state = State.Skip;
      return;
    }
    if (c === 0x7b || c === 0x5b) {
      if (this.stack.length >= MAX_CONTAINERS) throw new ListingFormatError(`the listing nests deeper than ${NAR_MAX_DEPTH} levels`);
      const frame: Frame = { role: c === 0x5b ? 'skip' : role, isArray: c === 0x5b };
      if (frame.role === 'document') this.sawDocument = true;
      if (frame.role === 'node') this.startNode(frame, parent, key);
      if (frame.role === 'entries') frame.found = false;
      this.stack.push(frame);
      this.key = null;
      this.state = frame.isArray ? State.Value : State.Key;
      return;
    }
    if (c === 0x22) {
      this.startString(false);
      return;
    }
    if (isBare(c)) {
      this.tokenLength = 0;
      this.push(c);
      this.state = State.Bare;
      return;
    }
    if (c === 0x5d && parent?.isArray) {
      this.close();
      return;
    }
    throw new ListingFormatError(`the listing is not valid JSON (unexpected ${JSON.stringify(String.fromCharCode(c))})`);
  }

  private roleOfValue(parent: Frame | undefined, key: string | null): Role {
    if (!parent) return this.sawDocument ? 'skip' : 'document';
    if (parent.role === 'document') return key === 'root' ? 'node' : 'skip';
    if (parent.role === 'node') return key === 'entries' ? 'entries' : 'skip';
    if (parent.role === 'entries') {
      // An entry's node: skipped unless it is on the way to the wanted node or inside it.
      const owner = this.stack[this.stack.length - 2]!;
      if (owner.relation === 'ancestor') return this.keyIs(this.segments[owner.depth!]!) ? 'node' : 'skip';
      return 'node';
    }
    return 'skip';
  }

  private startNode(frame: Frame, parent: Frame | undefined, key: string | null): void {
    if (parent?.role === 'document') {
      this.sawRoot = true;
      frame.depth = 0;
      frame.name = '';
      frame.relation = this.segments.length === 0 ? 'wanted' : 'ancestor';
    } else {
      const owner = this.stack[this.stack.length - 2]!;
      frame.depth = owner.depth! + 1;
      // The entry's name is still in the token buffer (only `:` and spaces came since).
      // Decoded only where it is shown: an ancestor, the wanted node, an entry of the window.
      const index = this.entryCount;
      const shown = owner.relation === 'ancestor' || (owner.relation === 'wanted' && index >= this.window.offset && index < this.window.offset + this.window.limit);
      frame.name = shown ? decodeNarString(this.token.subarray(0, this.tokenLength)) : '';
      void key;
      if (owner.relation === 'ancestor') {
        parent!.found = true;
        frame.relation = frame.depth === this.segments.length ? 'wanted' : 'ancestor';
      } else frame.relation = owner.relation === 'wanted' ? 'child' : 'inside';
    }
    frame.files = 0;
    frame.bytes = 0;
  }

  /** A scalar value finished: keep it if it is a fact of a node. */
  private scalar(value: string | number | boolean | null): void {
    const top = this.stack[this.stack.length - 1];
    const key = this.key;
    this.key = null;
    this.state = State.Next;
    if (!top) {
      throw new ListingFormatError('the listing must be a JSON object');
    }
    if (top.role === 'document' && key === 'version') this.version = value;
    if (top.role !== 'node') return;
    if (key === 'type' && typeof value === 'string') top.type = value;
    else if (key === 'size' && typeof value === 'number') top.size = value;
    else if (key === 'executable' && typeof value === 'boolean') top.executable = value;
    else if (key === 'narOffset' && typeof value === 'number') top.narOffset = value;
    else if (key === 'target' && typeof value === 'string') top.target = value;
  }

  private close(): void {
    const frame = this.stack.pop()!;
    this.key = null;
    this.state = State.Next;
    if (frame.role === 'node') this.closeNode(frame);
    else if (frame.role === 'entries') {
      const owner = this.stack[this.stack.length - 1]!;
      // The next segment is not among an ancestor's entries: nothing is at the path.
      if (owner.relation === 'ancestor' && !frame.found && !this.options.wholeDocument) this.state = State.Done;
    }
    if (this.stack.length === 0 && this.state !== State.Done && !this.options.wholeDocument) this.state = State.Done;
  }

  private closeNode(frame: Frame): void {
    const type = frame.type;
    if (type !== 'regular' && type !== 'symlink' && type !== 'directory') {
      throw new ListingFormatError(`listing node ${JSON.stringify(frame.name)}: "type" must be "regular", "symlink" or "directory"`);
    }
    if (type === 'regular') {
      if (frame.size === undefined || !Number.isSafeInteger(frame.size) || frame.size < 0) {
        throw new ListingFormatError(`listing node ${JSON.stringify(frame.name)}: "size" must be a non-negative integer`);
      }
      frame.files = 1;
      frame.bytes = frame.size;
    }
    if (frame.relation === 'child' || frame.relation === 'inside') {
      const owner = this.stack[this.stack.length - 2]!;
      owner.files! += frame.files!;
      owner.bytes! += frame.bytes!;
    }
    if (frame.relation === 'child') {
      const index = this.entryCount++;
      if (index >= this.window.offset && index < this.window.offset + this.window.limit) this.entries.push(entryOf(frame, type));
    } else if (frame.relation === 'wanted') {
      this.answer = { found: true, node: entryOf(frame, type), entries: [], entryCount: 0 };
      if (!this.options.wholeDocument) this.state = State.Done;
    } else if (frame.relation === 'ancestor') {
      // The wanted node was not below this one.
      if (!this.options.wholeDocument) this.state = State.Done;
    }
  }

  // Tokens

  private startString(isKey: boolean): void {
    this.tokenLength = 0;
    this.readingKey = isKey;
    this.state = State.String;
  }

  private push(c: number): void {
    if (this.tokenLength === this.token.length) this.grow(this.tokenLength + 1);
    this.token[this.tokenLength++] = c;
  }

  private escape(c: number): void {
    this.state = State.String;
    switch (c) {
      case 0x22:
      case 0x5c:
      case 0x2f:
        this.push(c);
        return;
      case 0x62:
        this.push(0x08);
        return;
      case 0x66:
        this.push(0x0c);
        return;
      case 0x6e:
        this.push(0x0a);
        return;
      case 0x72:
        this.push(0x0d);
        return;
      case 0x74:
        this.push(0x09);
        return;
      case 0x75:
        this.unicode = 0;
        this.unicodeDigits = 0;
        this.state = State.Unicode;
        return;
    }
    throw new ListingFormatError('the listing holds an invalid escape in a string');
  }

  private unicodeDigit(c: number): void {
    const digit = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 0x57 : c >= 0x41 && c <= 0x46 ? c - 0x37 : -1;
    if (digit < 0) throw new ListingFormatError('the listing holds an invalid \\u escape');
    this.unicode = this.unicode * 16 + digit;
    if (++this.unicodeDigits < 4) return;
    this.state = State.String;
    // `\u00xx` is one byte of a NAR string (Nix escapes control bytes so); anything above as UTF-8.
    const bytes = this.unicode < 0x100 ? [this.unicode] : [...Buffer.from(String.fromCharCode(this.unicode), 'utf8')];
    for (const b of bytes) this.push(b);
  }

  private endString(): void {
    if (this.readingKey) {
      // An entry's name stays bytes in the token buffer until its value starts.
      const top = this.stack[this.stack.length - 1];
      this.key = top?.role === 'entries' ? ENTRY : (this.knownWord(KEYS) ?? decodeNarString(this.token.subarray(0, this.tokenLength)));
      this.state = State.Colon;
      return;
    }
    // Node types are compared as bytes; only targets (and unknown strings) are decoded.
    const top = this.stack[this.stack.length - 1];
    if (top?.role === 'node' && this.key === 'type') {
      const type = this.knownWord(TYPES);
      if (type) {
        this.scalar(type);
        return;
      }
    }
    this.scalar(decodeNarString(this.token.subarray(0, this.tokenLength)));
  }

  /** The word of `words` the token spells, if any (no string made). */
  private knownWord(words: ReadonlyArray<readonly [string, Uint8Array]>): string | null {
    for (const [word, bytes] of words) if (this.keyIs(bytes)) return word;
    return null;
  }

  /** Whether the key just read is `bytes`. */
  private keyIs(bytes: Uint8Array): boolean {
    if (this.tokenLength !== bytes.length) return false;
    for (let i = 0; i < bytes.length; i++) if (this.token[i] !== bytes[i]) return false;
    return true;
  }

  /** Copies a string's plain bytes up to its closing quote or next escape. */
  private stringRun(chunk: Uint8Array, i: number): number {
    let end = i;
    while (end < chunk.length) {
      const c = chunk[end]!;
      if (c === 0x22 || c === 0x5c) break;
      end++;
    }
    const n = end - i;
    if (n > 0) {
      if (this.tokenLength + n > this.token.length) this.grow(this.tokenLength + n);
      this.token.set(chunk.subarray(i, end), this.tokenLength);
      this.tokenLength += n;
    }
    return end;
  }

  private grow(needed: number): void {
    if (needed > MAX_TOKEN_BYTES) throw new ListingFormatError(`the listing holds a token longer than ${MAX_TOKEN_BYTES} bytes`);
    let size = this.token.length;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(Math.min(size, MAX_TOKEN_BYTES));
    grown.set(this.token.subarray(0, this.tokenLength));
    this.token = grown;
  }

  private endBare(): void {
    // The common case, a small non-negative integer, without making a string.
    let n = 0;
    let digits = true;
    for (let k = 0; k < this.tokenLength; k++) {
      const c = this.token[k]!;
      if (c < 0x30 || c > 0x39 || (k === 0 && c === 0x30 && this.tokenLength > 1)) {
        digits = false;
        break;
      }
      n = n * 10 + (c - 0x30);
    }
    if (digits && this.tokenLength <= 15) {
      this.scalar(n);
      return;
    }
    const text = Buffer.from(this.token.subarray(0, this.tokenLength)).toString('latin1');
    let value: number | boolean | null;
    if (text === 'true') value = true;
    else if (text === 'false') value = false;
    else if (text === 'null') value = null;
    else {
      value = Number(text);
      if (!/^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/.test(text) || !Number.isFinite(value)) {
        throw new ListingFormatError(`the listing holds an invalid value ${JSON.stringify(text.slice(0, 40))}`);
      }
    }
    this.scalar(value);
  }

  /** Passes over a skipped value from `chunk[i]`; returns where reading goes on. */
  private skip(chunk: Uint8Array, i: number): number {
    let depth = this.skipDepth;
    let inString = this.skipInString;
    let escape = this.skipEscape;
    for (; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (inString) {
        if (escape) escape = false;
        else if (c === 0x5c) escape = true;
        else if (c === 0x22) inString = false;
      } else if (c === 0x22) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) {
          this.state = State.Next;
          return i + 1;
        }
      }
    }
    this.skipDepth = depth;
    this.skipInString = inString;
    this.skipEscape = escape;
    return i;
  }
}

function entryOf(frame: Frame, type: ListingEntry['type']): ListingEntry {
  return {
    name: frame.name!,
    type,
    size: type === 'regular' ? frame.size! : 0,
    executable: type === 'regular' && frame.executable === true,
    ...(type === 'regular' && frame.narOffset !== undefined ? { narOffset: frame.narOffset } : {}),
    ...(type === 'symlink' ? { target: frame.target ?? '' } : {}),
    files: frame.files!,
    bytes: frame.bytes!,
  };
}
