/**
 * Streaming `.ls` renderer: writes a listing as JSON, byte for byte as Nix 2.8 does
 * (2.8.0:src/libstore/nar-accessor.cc:243 with src/libutil/json.cc), while a NAR is being
 * parsed, so a listing never has to exist as a tree in memory.
 *
 * This works because a NAR is the listing's own nesting order: nodes arrive depth first,
 * directory entries sorted, and every fact a node's JSON holds (type, size, executable,
 * offset, target) is known when its node starts. The writer only keeps, per open directory,
 * whether it already has an entry (for the commas): memory is O(depth), output goes to the
 * sink in chunks of at most {@link LISTING_CHUNK_SIZE} bytes.
 *
 * Compact JSON, keys in Nix 2.8's insertion order (`version`, `root`; `type` first),
 * `executable` only when true, `narOffset` only when non-zero. Strings are escaped like
 * Nix 2.8's `toJSON`: `\"`, `\\`, `\n`, `\r`, `\t`, other control characters as `\u00xx`,
 * and every other byte written raw, so a non-UTF-8 name comes out as the same raw bytes
 * Nix writes.
 */
import { NarLimitError } from './errors.js';

/** Size of the chunks handed to the sink (the last one may be shorter). */
export const LISTING_CHUNK_SIZE = 64 * 1024;

/** Receives each finished chunk; the chunk belongs to the receiver. */
export type ListingSink = (chunk: Uint8Array) => void;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const HEADER = ascii('{"version":1,"root":');
const REGULAR = ascii('{"type":"regular","size":');
const EXECUTABLE = ascii(',"executable":true');
const NAR_OFFSET = ascii(',"narOffset":');
const SYMLINK = ascii('{"type":"symlink","target":');
const DIRECTORY = ascii('{"type":"directory","entries":{');
const HEX = ascii('0123456789abcdef');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Longest JSON one string token can become: every byte as `\u00xx`, plus quotes. */
const maxEscaped = (length: number): number => length * 6 + 2;

/**
 * Writes one listing. Call, in NAR order: {@link regular}, {@link symlink} or
 * {@link openDirectory} for each node, {@link entry} before each directory entry's node,
 * {@link closeDirectory} after a directory's last entry, then {@link end}.
 */
export class ListingWriter {
  private buf = new Uint8Array(LISTING_CHUNK_SIZE);
  private pos = 0;
  private flushed = 0;
  /** Per open directory: whether it has an entry yet. */
  private readonly hasEntry: boolean[] = [];

  /**
   * @param sink receives the chunks.
   * @param maxBytes refuses (with a {@link NarLimitError} `maxListingBytes`) a listing that grows past this.
   */
  constructor(
    private readonly sink: ListingSink,
    private readonly maxBytes = Number.MAX_SAFE_INTEGER,
  ) {
    this.put(HEADER);
  }

  /** Bytes written so far (flushed or not). */
  get size(): number {
    return this.flushed + this.pos;
  }

  regular(size: number, executable: boolean, narOffset: number): void {
    this.ensure(REGULAR.length + EXECUTABLE.length + NAR_OFFSET.length + 40);
    this.put(REGULAR);
    this.putNumber(size);
    if (executable) this.put(EXECUTABLE);
    if (narOffset !== 0) {
      this.put(NAR_OFFSET);
      this.putNumber(narOffset);
    }
    this.buf[this.pos++] = 0x7d; // }
  }

  symlink(target: Uint8Array): void {
    this.ensure(SYMLINK.length + maxEscaped(target.length) + 1);
    this.put(SYMLINK);
    this.putString(target);
    this.buf[this.pos++] = 0x7d;
  }

  openDirectory(): void {
    this.ensure(DIRECTORY.length);
    this.put(DIRECTORY);
    this.hasEntry.push(false);
  }

  /** Starts an entry of the innermost open directory: `"name":`. */
  entry(name: Uint8Array): void {
    this.ensure(maxEscaped(name.length) + 2);
    const last = this.hasEntry.length - 1;
    if (this.hasEntry[last]) this.buf[this.pos++] = 0x2c; // ,
    this.hasEntry[last] = true;
    this.putString(name);
    this.buf[this.pos++] = 0x3a; // :
  }

  closeDirectory(): void {
    this.ensure(2);
    this.hasEntry.pop();
    this.buf[this.pos++] = 0x7d;
    this.buf[this.pos++] = 0x7d;
  }

  /** Closes the document and hands the last chunk to the sink. */
  end(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0x7d;
    this.flush();
  }

  private ensure(n: number): void {
    if (this.size + n > this.maxBytes) {
      throw new NarLimitError(
        'maxListingBytes',
        `the NAR's file listing would exceed ${this.maxBytes} bytes, the most this cache accepts`,
        this.maxBytes,
      );
    }
    if (this.pos + n > this.buf.length) this.flush();
  }

  private flush(): void {
    if (this.pos === 0) return;
    const chunk = this.buf.subarray(0, this.pos);
    this.flushed += this.pos;
    this.buf = new Uint8Array(LISTING_CHUNK_SIZE);
    this.pos = 0;
    this.sink(chunk);
  }

  private put(bytes: Uint8Array): void {
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private putNumber(n: number): void {
    const digits = String(n);
    for (let i = 0; i < digits.length; i++) this.buf[this.pos++] = digits.charCodeAt(i);
  }

  private putString(bytes: Uint8Array): void {
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = QUOTE;
    for (let i = 0; i < bytes.length; i++) {
      const c = bytes[i];
      if (c >= 0x20 && c !== QUOTE && c !== BACKSLASH) {
        buf[pos++] = c;
      } else if (c === QUOTE || c === BACKSLASH) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = c;
      } else if (c === 0x0a) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = 0x6e; // n
      } else if (c === 0x0d) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = 0x72; // r
      } else if (c === 0x09) {
        buf[pos++] = BACKSLASH;
        buf[pos++] = 0x74; // t
      } else {
        buf[pos++] = BACKSLASH;
        buf[pos++] = 0x75; // u
        buf[pos++] = 0x30;
        buf[pos++] = 0x30;
        buf[pos++] = HEX[c >> 4];
        buf[pos++] = HEX[c & 15];
      }
    }
    buf[pos++] = QUOTE;
    this.pos = pos;
  }
}
