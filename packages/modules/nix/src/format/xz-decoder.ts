/**
 * xz (and lzip) decoding with liblzma itself, the library Nix decodes them with (through
 * libarchive: `lzma_stream_decoder(…, LZMA_CONCATENATED)`), compiled to WebAssembly in the
 * `node-liblzma` package. Using the same library is what makes the cache accept exactly the
 * files Nix can unpack: the same integrity checks (None, CRC32, CRC64, SHA-256), the same
 * range-coder and index checks, concatenated streams and stream padding as `xz` writes them.
 * (The previous decoder, xz-embedded, skipped a range coder's first-byte check and knew no
 * SHA-256, so it accepted files liblzma refuses and refused files Nix writes.)
 *
 * Each decoder gets its own WebAssembly instance of the module (compiled once per process,
 * instantiated in well under a millisecond): its memory, which grows to the stream's
 * dictionary, is returned to the system when the decoder is done instead of staying with
 * a shared instance forever, and one decoder's memory can never starve another's.
 * Memory per decoder is bounded by {@link XZ_MAX_MEMORY} (liblzma's memlimit).
 *
 * Output is pushed to an async sink one 64 KiB block at a time and the next block is only
 * decoded once the sink's promise settled: a decompression bomb cannot pile up output.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { CompressionError, SizeLimitError } from './errors.js';

/**
 * Most memory one xz decoder may use, liblzma's `memlimit`. `xz -9` (a 64 MiB dictionary,
 * the largest preset and more than Nix ever writes: its default is `xz -6`, 8 MiB) needs
 * 65 MiB to decode; 80 MiB leaves room for liblzma's own state. Streams that need more are
 * refused with a {@link SizeLimitError}; Nix itself sets no limit (libarchive disables it).
 */
export const XZ_MAX_MEMORY = 80 * 1024 * 1024;

/** The liblzma functions this module calls, as the Emscripten module exposes them. */
interface LzmaModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _lzma_stream_decoder(strm: number, memlimit: bigint, flags: number): number;
  _lzma_lzip_decoder?(strm: number, memlimit: bigint, flags: number): number;
  _lzma_auto_decoder(strm: number, memlimit: bigint, flags: number): number;
  _lzma_code(strm: number, action: number): number;
  _lzma_end(strm: number): void;
}

type CreateModule = (options: Record<string, unknown>) => Promise<LzmaModule>;

// lzma.h
const LZMA_OK = 0;
const LZMA_STREAM_END = 1;
const LZMA_MEM_ERROR = 5;
const LZMA_MEMLIMIT_ERROR = 6;
const LZMA_FORMAT_ERROR = 7;
const LZMA_OPTIONS_ERROR = 8;
const LZMA_DATA_ERROR = 9;
const LZMA_BUF_ERROR = 10;
const LZMA_RUN = 0;
const LZMA_FINISH = 3;
const LZMA_CONCATENATED = 0x08;

/** Size of `lzma_stream` in wasm32 and the offsets of the fields used (lzma/base.h). */
const STREAM_SIZE = 96;
const NEXT_IN = 0;
const AVAIL_IN = 4;
const NEXT_OUT = 16;
const AVAIL_OUT = 20;

const IN_SIZE = 64 * 1024;
const OUT_SIZE = 64 * 1024;

let loading: Promise<{ create: CreateModule; wasm: WebAssembly.Module }> | undefined;

/** Loads and compiles the liblzma module once per process. */
function loadLiblzma(): Promise<{ create: CreateModule; wasm: WebAssembly.Module }> {
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    const glue = (await import(require.resolve('node-liblzma/wasm/liblzma.js'))) as { default: CreateModule };
    const wasm = await WebAssembly.compile(await readFile(require.resolve('node-liblzma/wasm/liblzma.wasm')));
    return { create: glue.default, wasm };
  })();
  return loading;
}

/** Which container a decoder reads. */
export type LzmaFormat = 'xz' | 'lzip';

/** A push-based liblzma decoder; see the module documentation. Writes must not overlap. */
export class XzDecoder {
  private strm: number;
  private readonly inBuf: number;
  private readonly outBuf: number;
  private done = false;

  private constructor(
    private readonly lzma: LzmaModule,
    private readonly format: LzmaFormat,
    private readonly onData: (chunk: Uint8Array) => void | Promise<void>,
  ) {
    this.strm = lzma._malloc(STREAM_SIZE);
    this.inBuf = lzma._malloc(IN_SIZE);
    this.outBuf = lzma._malloc(OUT_SIZE);
    if (this.strm === 0 || this.inBuf === 0 || this.outBuf === 0) throw new Error('liblzma: cannot allocate its buffers');
    lzma.HEAPU8.fill(0, this.strm, this.strm + STREAM_SIZE); // LZMA_STREAM_INIT
    const ret =
      format === 'xz'
        ? lzma._lzma_stream_decoder(this.strm, BigInt(XZ_MAX_MEMORY), LZMA_CONCATENATED)
        : lzma._lzma_auto_decoder(this.strm, BigInt(XZ_MAX_MEMORY), LZMA_CONCATENATED);
    if (ret !== LZMA_OK) throw new Error(`liblzma: cannot start a decoder (code ${ret})`);
  }

  /**
   * Creates a decoder in a fresh instance of liblzma. `onData` gets each piece of output
   * as a view of wasm memory, valid until its returned promise (if any) settles.
   */
  static async create(onData: (chunk: Uint8Array) => void | Promise<void>, format: LzmaFormat = 'xz'): Promise<XzDecoder> {
    const { create, wasm } = await loadLiblzma();
    const lzma = await create({
      // Instantiate the module compiled once, instead of fetching and compiling it again.
      instantiateWasm(imports: WebAssembly.Imports, ready: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void) {
        const instance = new WebAssembly.Instance(wasm, imports);
        ready(instance, wasm);
        return instance.exports;
      },
    });
    for (const fn of ['_malloc', '_free', '_lzma_stream_decoder', '_lzma_auto_decoder', '_lzma_code', '_lzma_end'] as const) {
      if (typeof lzma[fn] !== 'function') {
        throw new Error(`node-liblzma's wasm no longer exports ${fn}; update src/format/xz-decoder.ts (written for node-liblzma 5.1)`);
      }
    }
    return new XzDecoder(lzma, format, onData);
  }

  /** Decodes `chunk`, handing all output it yields to `onData`. */
  async write(chunk: Uint8Array): Promise<void> {
    this.checkAlive();
    try {
      for (let pos = 0; pos < chunk.length; ) {
        const n = Math.min(IN_SIZE, chunk.length - pos);
        this.lzma.HEAPU8.set(chunk.subarray(pos, pos + n), this.inBuf);
        this.setU32(NEXT_IN, this.inBuf);
        this.setU32(AVAIL_IN, n);
        pos += n;
        await this.run(LZMA_RUN);
      }
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Signals the end of input: flushes the rest and checks that the last stream is complete. */
  async end(): Promise<void> {
    this.checkAlive();
    try {
      this.setU32(AVAIL_IN, 0);
      await this.run(LZMA_FINISH);
    } finally {
      this.destroy();
    }
  }

  /** Frees the decoder and its wasm instance. Idempotent. */
  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.lzma._lzma_end(this.strm);
    this.lzma._free(this.inBuf);
    this.lzma._free(this.outBuf);
    this.lzma._free(this.strm);
    this.strm = 0;
  }

  /** Calls `lzma_code` until the input is used up (and, finishing, until the end). */
  private async run(action: number): Promise<void> {
    for (;;) {
      this.setU32(NEXT_OUT, this.outBuf);
      this.setU32(AVAIL_OUT, OUT_SIZE);
      const ret = this.lzma._lzma_code(this.strm, action);
      const produced = OUT_SIZE - this.getU32(AVAIL_OUT);
      if (produced > 0) {
        // HEAPU8 is replaced when the memory grows: take it after the call.
        const pending = this.onData(this.lzma.HEAPU8.subarray(this.outBuf, this.outBuf + produced));
        if (pending) await pending;
        if (this.done) throw new CompressionError(`${this.format} decompression was aborted`);
      }
      if (ret === LZMA_STREAM_END) return;
      if (ret !== LZMA_OK) throw this.failure(ret);
      // Running: stop when the input is used up and liblzma had no more output to give.
      if (action === LZMA_RUN && this.getU32(AVAIL_IN) === 0 && produced < OUT_SIZE) return;
    }
  }

  private failure(ret: number): Error {
    const what = this.format;
    switch (ret) {
      case LZMA_DATA_ERROR:
        return new CompressionError(`the ${what} data is corrupt (liblzma: "Corrupted input data")`);
      case LZMA_FORMAT_ERROR:
        return new CompressionError(`the data is not in ${what} format (liblzma: "File format not recognized")`);
      case LZMA_OPTIONS_ERROR:
        return new CompressionError(`the ${what} stream uses options liblzma does not support (liblzma: "Unsupported options")`);
      case LZMA_BUF_ERROR:
        return new CompressionError(`the ${what} data is truncated (liblzma: "Unexpected end of input")`);
      case LZMA_MEMLIMIT_ERROR:
        return new SizeLimitError(
          `the ${what} stream needs more than ${XZ_MAX_MEMORY / 1024 / 1024} MiB of memory to decode (its dictionary is larger than what xz -9 uses)`,
          XZ_MAX_MEMORY,
        );
      case LZMA_MEM_ERROR:
        return new Error('liblzma ran out of memory');
      default:
        return new Error(`liblzma failed with code ${ret}`);
    }
  }

  private setU32(offset: number, value: number): void {
    const at = this.strm + offset;
    const heap = this.lzma.HEAPU8;
    heap[at] = value & 0xff;
    heap[at + 1] = (value >>> 8) & 0xff;
    heap[at + 2] = (value >>> 16) & 0xff;
    heap[at + 3] = value >>> 24;
  }

  private getU32(offset: number): number {
    const at = this.strm + offset;
    const heap = this.lzma.HEAPU8;
    return (heap[at] | (heap[at + 1] << 8) | (heap[at + 2] << 16)) + heap[at + 3] * 0x1000000;
  }

  private checkAlive(): void {
    if (this.done) throw new CompressionError(`${this.format} decompression was aborted`);
  }
}
