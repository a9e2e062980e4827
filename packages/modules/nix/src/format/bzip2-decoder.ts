/**
 * A push-based bzip2 decoder in bounded memory, on the block decoder of `seek-bzip`
 * (pure JavaScript, a port of the bzip2 reference decoder by way of micro-bunzip).
 *
 * `seek-bzip` pulls its input one byte at a time; an upload arrives in pushed chunks. A
 * bzip2 stream is a sequence of blocks, each decoded whole (Huffman symbols, then the
 * inverse Burrows-Wheeler transform over at most 900 000 bytes), so this module buffers the
 * input of one block, runs the block decoder over it, and if the block turns out longer
 * than what has arrived, rewinds to the block's first bit and tries again once twice as
 * much input is there. Memory: the block's compressed bytes (at most a few MiB for a 900 k
 * block), the decoder's 3.6 MB table, and 64 KiB of output at a time. Each block's CRC and
 * each stream's combined CRC are checked, as libbzip2 does; concatenated streams (as
 * `pbzip2` writes and libbzip2 reads) decode one after the other. Bytes after the last
 * stream are an error, as after every compressed stream the cache accepts.
 */
import { createRequire } from 'node:module';
import { CompressionError } from './errors.js';

/** The parts of `seek-bzip`'s decoder this module drives (seek-bzip 2.0, lib/index.js). */
interface BitReader {
  bitOffset: number;
  curByte: number;
  hasByte: boolean;
  read(bits: number): number;
}
interface ByteStream {
  readByte(): number;
  read(buffer: Uint8Array, offset: number, length: number): number;
}
interface Bunzip {
  reader: BitReader;
  dbufSize: number;
  streamCRC: number;
  _init_block(): boolean;
  _read_bunzip(): number;
}
interface BunzipModule {
  new (input: ByteStream, output: { writeByte(byte: number): void }): Bunzip;
  Stream: new () => ByteStream;
}

const Bunzip = createRequire(import.meta.url)('seek-bzip') as BunzipModule;
for (const method of ['_init_block', '_read_bunzip'] as const) {
  if (typeof (Bunzip.prototype as unknown as Record<string, unknown>)[method] !== 'function') {
    throw new Error(`seek-bzip no longer has Bunzip.prototype.${method}; update src/format/bzip2-decoder.ts (written for seek-bzip 2.0)`);
  }
}

/** Thrown by the byte source when the input so far is used up (never escapes this module). */
const NEED_INPUT = Symbol('need more input');

const OUT_SIZE = 64 * 1024;

/**
 * The most compressed input one block can take: a block switches Huffman tables every 50
 * symbols, at most 32 767 times (15-bit count), and a code is at most 20 bits, so a block
 * is below 4.2 MB. A "block" still unfinished after this much input is not bzip2 (and
 * buffering it would let one upload hold unbounded memory).
 */
const MAX_BLOCK_INPUT = 8 * 1024 * 1024;

/** A push-based bzip2 decoder; writes must not overlap. */
export class Bzip2Decoder {
  /** Input from the start of the block being decoded (`buf[0, len)`); `cursor` is the next byte to read. */
  private buf = new Uint8Array(64 * 1024);
  private len = 0;
  private cursor = 0;
  private ended = false;
  private failed: unknown;
  private bz: Bunzip | undefined;
  private streams = 0;
  /** Bytes to have before trying the next block (doubles after each try that ran short). */
  private threshold = 0;
  private out = new Uint8Array(OUT_SIZE);
  private outPos = 0;
  private pending: Promise<void>[] = [];
  private readonly input: ByteStream;
  private readonly output = { writeByte: (byte: number): void => this.writeByte(byte) };

  constructor(private readonly onData: (chunk: Uint8Array) => void | Promise<void>) {
    this.input = new Bunzip.Stream();
    this.input.readByte = () => {
      if (this.cursor < this.len) return this.buf[this.cursor++]!;
      if (this.ended) throw new CompressionError('the bzip2 data is truncated');
      throw NEED_INPUT;
    };
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    if (chunk.length === 0) return;
    this.append(chunk);
    await this.run();
  }

  async end(): Promise<void> {
    if (this.failed !== undefined) throw this.failed;
    this.ended = true;
    await this.run();
    if (this.streams === 0) throw this.fail(new CompressionError('the bzip2 stream is empty'));
  }

  destroy(): void {
    this.failed ??= new CompressionError('bzip2 decompression was aborted');
    this.buf = new Uint8Array(0);
    this.len = 0;
    this.cursor = 0;
  }

  private async run(): Promise<void> {
    try {
      while (this.step()) {
        // Between blocks: let the sink catch up.
        await this.settle();
      }
      await this.settle();
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Decodes one unit (a stream header, a block, or a stream's end) if it can; false when it needs more input or is done. */
  private step(): boolean {
    const available = this.len - this.cursor;
    if (this.bz === undefined) {
      if (available === 0) return false;
      if (available < 4 && !this.ended) return false;
      const mark = this.cursor;
      try {
        this.bz = new Bunzip(this.input, this.output);
      } catch (err) {
        if (err === NEED_INPUT) {
          this.cursor = mark;
          return false;
        }
        if (this.streams > 0) throw new CompressionError(`the bzip2 data has ${available} bytes of trailing garbage after the end of the stream`);
        throw this.corrupt(err);
      }
      this.threshold = this.bz.dbufSize + 25_000;
      return true;
    }
    if (!this.ended && available < this.threshold) return false;
    const bz = this.bz;
    const saved = { cursor: this.cursor, bitOffset: bz.reader.bitOffset, curByte: bz.reader.curByte, hasByte: bz.reader.hasByte, streamCRC: bz.streamCRC };
    try {
      if (bz._init_block()) {
        bz._read_bunzip();
        this.flush();
      } else {
        const expected = bz.reader.read(32) >>> 0;
        if (expected !== bz.streamCRC >>> 0) throw new CompressionError('the bzip2 data is corrupt (the stream CRC does not match)');
        this.bz = undefined;
        this.streams++;
      }
    } catch (err) {
      if (err !== NEED_INPUT) throw err instanceof CompressionError ? err : this.corrupt(err);
      // The block is longer than what arrived: rewind to its first bit, wait for more.
      this.cursor = saved.cursor;
      Object.assign(bz.reader, { bitOffset: saved.bitOffset, curByte: saved.curByte, hasByte: saved.hasByte });
      bz.streamCRC = saved.streamCRC;
      if (available > MAX_BLOCK_INPUT) throw new CompressionError(`the bzip2 data is corrupt (a block longer than ${MAX_BLOCK_INPUT} bytes)`);
      this.threshold = Math.min(Math.max(this.threshold, available) * 2, MAX_BLOCK_INPUT + 1);
      return false;
    }
    this.threshold = bz.dbufSize + 25_000;
    this.compact();
    return true;
  }

  private writeByte(byte: number): void {
    this.out[this.outPos++] = byte;
    if (this.outPos === OUT_SIZE) this.flush();
  }

  /** Hands the output so far to the sink; the buffer is the sink's until its promise settles. */
  private flush(): void {
    if (this.outPos === 0) return;
    const chunk = this.out.subarray(0, this.outPos);
    this.out = new Uint8Array(OUT_SIZE);
    this.outPos = 0;
    const pending = this.onData(chunk);
    if (pending && typeof pending.then === 'function') this.pending.push(pending);
  }

  private async settle(): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    for (const p of pending) await p;
  }

  private append(chunk: Uint8Array): void {
    if (this.len + chunk.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(this.buf.length * 2, this.len + chunk.length));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  /** Drops the input before the current byte (the bit reader holds a byte it already read). */
  private compact(): void {
    if (this.cursor === 0) return;
    this.buf.copyWithin(0, this.cursor, this.len);
    this.len -= this.cursor;
    this.cursor = 0;
  }

  private corrupt(err: unknown): CompressionError {
    const detail = err instanceof Error ? err.message : String(err);
    return new CompressionError(`the bzip2 data is corrupt (${detail})`);
  }

  private fail(err: unknown): unknown {
    this.failed ??= err;
    return this.failed;
  }
}
