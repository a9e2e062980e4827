/**
 * Reference scanning over NAR bytes, the way Nix finds a path's references.
 *
 * Nix does not parse anything to find references: it dumps the path as a NAR and looks
 * for the 32-character hash parts of candidate store paths anywhere in those bytes,
 * file names, symlink targets and contents alike, also across the boundaries of the
 * chunks it reads (master:src/libstore/references.cc, `RefScanSink`; `scanForReferences`
 * in path-references.cc). A reference is there iff its hash part occurs.
 *
 * A cache receives the NAR before its narinfo, so it does not know the candidates while the
 * NAR streams in. {@link HashPartCollector} therefore collects every distinct 32-byte
 * window made only of Nix32 digits: the set of hash parts the NAR could refer to. Against
 * that set, a narinfo's listed reference is confirmed (it occurs) or refused (it does not),
 * and hash parts of known paths that occur but are not listed are found, with no second
 * read of the NAR. Real NARs hold a few dozen to a few thousand such windows; a NAR full of
 * Nix32-looking text could hold one per byte, so the set is capped
 * ({@link NAR_MAX_REFERENCE_CANDIDATES}). Past the cap the collector stops and says so;
 * the caller then checks the listed references with {@link scanNarForHashParts}, which
 * streams the stored NAR once more looking for those only.
 *
 * Both run in memory bounded by their set (no copy of the data) and in time linear in the
 * bytes: windows are found with Nix's skip search (a non-digit at offset j of a window
 * skips j + 1 bytes), runs of digits are followed with a rolling hash into an
 * open-addressing table of 32-byte keys, so a window costs no allocation, and a run of one
 * repeated byte costs one comparison per byte.
 */
import { Buffer } from 'node:buffer';
import { HashFormatError } from './errors.js';
import { NIX32_ALPHABET, decodeNix32, encodeNix32 } from './nix32.js';

/** Length of a store path's hash part in characters (`StorePath::HashLen`). */
export const HASH_PART_LENGTH = 32;

/**
 * Default most distinct hash-part candidates one NAR's scan keeps. Real paths hold tens to a
 * few thousand (store paths in binaries and scripts, checksums in lock files); 16 384 is far
 * above, and bounds the scan's memory (about 1 MiB) and what is stored per NAR (20 bytes a
 * candidate, 320 KiB at most).
 */
export const NAR_MAX_REFERENCE_CANDIDATES = 16_384;

/** What a reference scan of a NAR found. */
export interface ReferenceCandidates {
  /**
   * Distinct 32-character Nix32 strings found in the NAR, sorted (Nix32 digits sort like
   * their bytes). When `complete` is false these are the first ones found, not all.
   */
  readonly hashParts: readonly string[];
  /**
   * Whether `hashParts` holds every candidate. When false, a hash part absent from
   * `hashParts` may still occur: check it with {@link scanNarForHashParts}.
   */
  readonly complete: boolean;
}

const W = HASH_PART_LENGTH;
const TAIL = W - 1;

/** 1 for the bytes of Nix32 digits. */
const IS_DIGIT = new Uint8Array(256);
for (let i = 0; i < NIX32_ALPHABET.length; i++) IS_DIGIT[NIX32_ALPHABET.charCodeAt(i)] = 1;

// Polynomial rolling hash mod 2^32: h(w) = Σ w[j]·B^(31-j).
const B = 0x01000193;
let bPow = 1;
for (let i = 0; i < W - 1; i++) bPow = Math.imul(bPow, B);
/** B^31, to remove a window's first byte. */
const B_TOP = bPow;

function hashWindow(bytes: Uint8Array, at: number): number {
  let h = 0;
  for (let j = 0; j < W; j++) h = (Math.imul(h, B) + bytes[at + j]) | 0;
  return h;
}

/** An open-addressing set of 32-byte keys with their rolling hashes. */
class WindowTable {
  private capacity = 64;
  private hashes = new Int32Array(this.capacity);
  private used = new Uint8Array(this.capacity);
  private keys = new Uint8Array(this.capacity * W);
  /** Per slot, whether it was marked (found) by a lookup. */
  private marks = new Uint8Array(this.capacity);
  size = 0;
  marked = 0;

  /** Adds the window at `at` unless present; returns whether it was new. */
  add(bytes: Uint8Array, at: number, h: number): boolean {
    if ((this.size + 1) * 2 > this.capacity) this.grow();
    const slot = this.slotOf(bytes, at, h);
    if (this.used[slot]) return false;
    this.used[slot] = 1;
    this.hashes[slot] = h;
    this.keys.set(bytes.subarray(at, at + W), slot * W);
    this.size++;
    return true;
  }

  /** Marks the window at `at` if it is in the table. */
  mark(bytes: Uint8Array, at: number, h: number): void {
    const slot = this.slotOf(bytes, at, h);
    if (this.used[slot] && !this.marks[slot]) {
      this.marks[slot] = 1;
      this.marked++;
    }
  }

  /** The keys as strings (all, or only the marked ones), sorted. */
  strings(onlyMarked: boolean): string[] {
    const out: string[] = [];
    for (let slot = 0; slot < this.capacity; slot++) {
      if (this.used[slot] && (!onlyMarked || this.marks[slot])) {
        out.push(Buffer.from(this.keys.buffer, this.keys.byteOffset + slot * W, W).toString('latin1'));
      }
    }
    return out.sort();
  }

  /** The slot holding the window, or the empty slot where it would go. */
  private slotOf(bytes: Uint8Array, at: number, h: number): number {
    const mask = this.capacity - 1;
    // Spread the hash's high bits into the index (Fibonacci hashing).
    let slot = Math.imul(h, 0x9e3779b1) >>> 0;
    slot = (slot ^ (slot >>> 15)) & mask;
    for (;;) {
      if (!this.used[slot]) return slot;
      if (this.hashes[slot] === h && this.equals(slot, bytes, at)) return slot;
      slot = (slot + 1) & mask;
    }
  }

  private equals(slot: number, bytes: Uint8Array, at: number): boolean {
    const keys = this.keys;
    const base = slot * W;
    for (let j = 0; j < W; j++) if (keys[base + j] !== bytes[at + j]) return false;
    return true;
  }

  private grow(): void {
    const old = { capacity: this.capacity, hashes: this.hashes, used: this.used, keys: this.keys, marks: this.marks };
    this.capacity *= 2;
    this.hashes = new Int32Array(this.capacity);
    this.used = new Uint8Array(this.capacity);
    this.keys = new Uint8Array(this.capacity * W);
    this.marks = new Uint8Array(this.capacity);
    for (let slot = 0; slot < old.capacity; slot++) {
      if (!old.used[slot]) continue;
      const target = this.slotOf(old.keys, slot * W, old.hashes[slot]);
      this.used[target] = 1;
      this.hashes[target] = old.hashes[slot];
      this.marks[target] = old.marks[slot];
      this.keys.set(old.keys.subarray(slot * W, slot * W + W), target * W);
    }
  }
}

/** Called for each 32-digit window; returns false to stop scanning. */
type WindowVisitor = (bytes: Uint8Array, at: number, hash: number) => boolean;

/**
 * Finds every 32-digit window of a stream of chunks, including windows across chunk
 * boundaries (through a 31-byte tail, as `RefScanSink` does), and hands each to a visitor.
 * A window equal to the one before it (inside a run of one repeated digit) is not handed
 * out again.
 */
class WindowScanner {
  private readonly tail = new Uint8Array(TAIL * 2);
  private tailLength = 0;
  private stopped = false;

  constructor(private readonly visit: WindowVisitor) {}

  get isStopped(): boolean {
    return this.stopped;
  }

  write(data: Uint8Array): void {
    if (this.stopped || data.length === 0) return;
    // Windows that start in the tail and end in this chunk: at most 31 of them.
    if (this.tailLength > 0) {
      const head = Math.min(TAIL, data.length);
      const joined = this.tail;
      joined.set(data.subarray(0, head), this.tailLength);
      const joinedLength = this.tailLength + head;
      if (!this.scan(joined, 0, joinedLength, this.tailLength)) return;
    }
    if (!this.scan(data, 0, data.length, data.length)) return;
    this.keepTail(data);
  }

  /** Keeps the last 31 bytes seen (of the old tail and `data`) at the start of `tail`. */
  private keepTail(data: Uint8Array): void {
    if (data.length >= TAIL) {
      this.tail.set(data.subarray(data.length - TAIL));
      this.tailLength = TAIL;
      return;
    }
    const keep = Math.min(this.tailLength, TAIL - data.length);
    this.tail.copyWithin(0, this.tailLength - keep, this.tailLength);
    this.tail.set(data, keep);
    this.tailLength = keep + data.length;
  }

  /**
   * Visits the windows of `bytes[from, to)` that start before `startLimit`. Returns false
   * once the visitor asked to stop.
   */
  private scan(bytes: Uint8Array, from: number, to: number, startLimit: number): boolean {
    let i = from;
    while (i + W <= to && i < startLimit) {
      // Nix's search: check the window from its end; a non-digit at j rules out every
      // window starting at or before i + j.
      let j = W - 1;
      while (j >= 0 && IS_DIGIT[bytes[i + j]]) j--;
      if (j >= 0) {
        i += j + 1;
        continue;
      }
      // A window of digits at i: follow the run with a rolling hash.
      let h = hashWindow(bytes, i);
      if (!this.visit(bytes, i, h)) return this.stop();
      let same = 1;
      for (let k = i + 1; k < i + W; k++) same = bytes[k] === bytes[k - 1] ? same + 1 : 1;
      let k = i + W;
      for (; k < to && k - W + 1 < startLimit && IS_DIGIT[bytes[k]]; k++) {
        h = (Math.imul((h - Math.imul(bytes[k - W], B_TOP)) | 0, B) + bytes[k]) | 0;
        same = bytes[k] === bytes[k - 1] ? same + 1 : 1;
        // Inside a run of one repeated digit, the window is the previous one again.
        if (same > W) continue;
        if (!this.visit(bytes, k - W + 1, h)) return this.stop();
      }
      i = k + 1;
    }
    return true;
  }

  private stop(): false {
    this.stopped = true;
    return false;
  }
}

/**
 * Collects the distinct hash-part candidates of a NAR as it streams past (see the module
 * documentation). Feed it the uncompressed NAR in chunks of any size; it keeps no chunk.
 */
export class HashPartCollector {
  private readonly table = new WindowTable();
  private readonly scanner: WindowScanner;
  private overflowed = false;

  constructor(private readonly maxCandidates: number = NAR_MAX_REFERENCE_CANDIDATES) {
    this.scanner = new WindowScanner((bytes, at, h) => {
      if (this.table.add(bytes, at, h) && this.table.size > this.maxCandidates) {
        // One more than the cap: the set can no longer be complete, and scanning on is useless.
        this.overflowed = true;
        return false;
      }
      return true;
    });
  }

  write(chunk: Uint8Array): void {
    this.scanner.write(chunk);
  }

  /** The candidates found so far, sorted; `complete` unless the cap was exceeded. */
  result(): ReferenceCandidates {
    const hashParts = this.table.strings(false);
    // Any maxCandidates of them: each one does occur.
    if (this.overflowed) hashParts.length = this.maxCandidates;
    return { hashParts, complete: !this.overflowed };
  }
}

/**
 * Streams a NAR (uncompressed, e.g. the stored file through a decompressor) and returns
 * which of `hashParts` occur in it, exactly as Nix's `scanForReferences` would find them.
 * Stops reading as soon as all were found. For the narinfo check of a NAR whose candidate
 * set overflowed at upload.
 */
export async function scanNarForHashParts(nar: AsyncIterable<Uint8Array>, hashParts: Iterable<string>): Promise<Set<string>> {
  const table = new WindowTable();
  for (const part of hashParts) {
    if (part.length !== W || !isHashPartText(part)) throw new HashFormatError(`'${part}' is not a store path hash part (32 Nix32 digits)`);
    const bytes = Buffer.from(part, 'latin1');
    table.add(bytes, 0, hashWindow(bytes, 0));
  }
  const wanted = table.size;
  if (wanted > 0) {
    const scanner = new WindowScanner((bytes, at, h) => {
      table.mark(bytes, at, h);
      return table.marked < wanted;
    });
    for await (const chunk of nar) {
      scanner.write(chunk);
      if (scanner.isStopped) break;
    }
  }
  return new Set(table.strings(true));
}

function isHashPartText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff || !IS_DIGIT[c]) return false;
  }
  return true;
}

/**
 * Packs sorted hash parts for storage: 20 bytes each (a hash part is 160 bits of Nix32),
 * in the given order. {@link unpackHashParts} reverses it.
 */
export function packHashParts(hashParts: readonly string[]): Uint8Array {
  const out = new Uint8Array(hashParts.length * 20);
  hashParts.forEach((part, i) => {
    if (part.length !== W) throw new HashFormatError(`'${part}' is not a store path hash part (32 Nix32 digits)`);
    out.set(decodeNix32(part), i * 20);
  });
  return out;
}

/** The hash parts {@link packHashParts} packed, in the same order. */
export function unpackHashParts(packed: Uint8Array): string[] {
  if (packed.length % 20 !== 0) throw new HashFormatError(`packed hash parts must be a multiple of 20 bytes, got ${packed.length}`);
  const out: string[] = [];
  for (let at = 0; at < packed.length; at += 20) out.push(encodeNix32(packed.subarray(at, at + 20)));
  return out;
}
