/**
 * A synchronous, push-based xz decoder on top of the WebAssembly build of xz-embedded that
 * ships in `xz-decompress`.
 *
 * Why not its public `XzReadableStream`: in 0.2.3 every stream holds one process-wide
 * mutex from start to finish (its fix for httptoolkit/xz-decompress#9), so a second xz
 * upload would wait until the first one has completely arrived (and a stream that is never
 * cancelled blocks all later ones). That bug came from JavaScript views of the wasm memory
 * going stale when another context grew it; the C side keeps all state in its context and
 * is re-entrant. So this module drives the same wasm exports directly, one context per
 * decoder, re-creating its views after every call into wasm. It also avoids two web-stream
 * hops and a copy per 64 KiB: output is handed to the sink as a view of wasm memory.
 *
 * The wasm ABI (exports and the context layout below) is that of xz-decompress 0.2.x
 * (src/native/xz-decompress.c there); {@link loadXz} checks it and fails loudly if an
 * upgrade changed it. Decoding is `xz_dec_catrun` in XZ_DYNALLOC mode with a 64 MiB
 * dictionary limit (enough for `xz -9`), CRC32/CRC64 checks, concatenated streams and
 * stream padding; trailing garbage and truncation are errors.
 */
import xzDecompress from 'xz-decompress';
import { CompressionError } from './errors.js';

interface XzExports {
  memory: { buffer: ArrayBuffer };
  create_context(): number;
  destroy_context(context: number): void;
  supply_input(context: number, length: number): void;
  get_next_output(context: number): number;
}

/** The static members `XzReadableStream` uses to share its wasm instance (xz-decompress 0.2.x). */
interface XzStreamInternals {
  _getModuleInstance?: () => Promise<void>;
  _moduleInstancePromise?: Promise<void>;
  _moduleInstance?: { exports: Partial<XzExports> };
}

// Context layout (u32 words): bufsize, then struct xz_buf { in, in_pos, in_size, out, out_pos, out_size }.
const W_BUFSIZE = 0;
const W_IN = 1;
const W_IN_POS = 2;
const W_IN_SIZE = 3;
const W_OUT = 4;
const W_OUT_POS = 5;

// enum xz_ret (xz-embedded linux/include/linux/xz.h).
const XZ_OK = 0;
const XZ_STREAM_END = 1;
const XZ_FORMAT_ERROR = 5;
const XZ_BUF_ERROR = 8;
const XZ_MESSAGES: Record<number, string> = {
  2: 'the xz integrity check type is not supported',
  3: 'out of memory while decoding xz',
  4: 'the xz dictionary is larger than the 64 MiB limit',
  5: 'the data is not in xz format (bad magic bytes)',
  6: 'the xz stream uses unsupported options (filter or check type)',
  7: 'the xz data is corrupt',
  8: 'the xz stream is truncated',
};

let loading: Promise<XzExports> | undefined;

/** Loads (once per process) and checks the xz wasm module. */
export function loadXz(): Promise<XzExports> {
  loading ??= (async () => {
    const cls = (xzDecompress as unknown as { XzReadableStream: XzStreamInternals }).XzReadableStream;
    if (cls._moduleInstance === undefined) {
      if (typeof cls._getModuleInstance !== 'function') throw abiChanged();
      cls._moduleInstancePromise ??= cls._getModuleInstance();
      await cls._moduleInstancePromise;
    }
    const exports = cls._moduleInstance?.exports;
    if (
      exports === undefined ||
      typeof exports.create_context !== 'function' ||
      typeof exports.destroy_context !== 'function' ||
      typeof exports.supply_input !== 'function' ||
      typeof exports.get_next_output !== 'function' ||
      !(exports.memory?.buffer instanceof ArrayBuffer)
    ) {
      throw abiChanged();
    }
    return exports as XzExports;
  })();
  return loading;
}

function abiChanged(): Error {
  return new Error('xz-decompress no longer exposes the wasm ABI this module was written for (0.2.x); update src/format/xz-decoder.ts');
}

/**
 * One xz decoding context. `write` and `end` are synchronous: every byte of output they
 * produce is handed to `onData` (as a view of wasm memory, valid only during the call)
 * before they return. Call {@link destroy} when abandoning a decoder; `end()` and errors
 * release it automatically.
 */
export class XzDecoder {
  private context: number;
  private readonly bufSize: number;
  private readonly inStart: number;
  private readonly outStart: number;
  /** Whether any output was produced: then a format error means garbage after a stream. */
  private producedOutput = false;

  private constructor(
    private readonly xz: XzExports,
    private readonly onData: (chunk: Uint8Array) => void,
  ) {
    this.context = xz.create_context();
    const words = this.words();
    this.bufSize = words[W_BUFSIZE];
    this.inStart = words[W_IN];
    this.outStart = words[W_OUT];
  }

  /** Creates a decoder, loading the wasm module on first use. */
  static async create(onData: (chunk: Uint8Array) => void): Promise<XzDecoder> {
    return new XzDecoder(await loadXz(), onData);
  }

  /** Decodes `chunk`, handing all output it yields to `onData`. */
  write(chunk: Uint8Array): void {
    this.checkAlive();
    try {
      for (let pos = 0; pos < chunk.length; ) {
        const n = Math.min(this.bufSize, chunk.length - pos);
        new Uint8Array(this.xz.memory.buffer, this.inStart, n).set(chunk.subarray(pos, pos + n));
        this.xz.supply_input(this.context, n);
        pos += n;
        this.run(false);
      }
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  /** Signals the end of input: flushes the rest and checks the stream is complete. */
  end(): void {
    this.checkAlive();
    try {
      // An empty input buffer is how this ABI says "finish" (xz_dec_catrun(…, finish = in_size == 0)).
      this.xz.supply_input(this.context, 0);
      this.run(true);
    } finally {
      this.destroy();
    }
  }

  /** Frees the wasm context. Idempotent. */
  destroy(): void {
    if (this.context !== 0) {
      this.xz.destroy_context(this.context);
      this.context = 0;
    }
  }

  private run(finishing: boolean): void {
    for (let calls = 0; ; calls++) {
      const ret = this.xz.get_next_output(this.context);
      // get_next_output may grow wasm memory (the dictionary is allocated lazily): fresh views.
      let words = this.words();
      const produced = words[W_OUT_POS];
      if (produced > 0) {
        this.producedOutput = true;
        this.onData(new Uint8Array(this.xz.memory.buffer, this.outStart, produced));
        words = this.words();
        words[W_OUT_POS] = 0;
      }
      if (ret === XZ_STREAM_END) return;
      if (ret !== XZ_OK) throw new CompressionError(this.describe(ret));
      const outputFull = produced === this.bufSize;
      if (!finishing && words[W_IN_POS] === words[W_IN_SIZE] && !outputFull) return;
      // Finishing: xz-embedded answers XZ_BUF_ERROR on the second call without progress, so
      // this loop ends; the guard is only against an ABI surprise.
      if (calls > 1_000_000) throw new CompressionError('xz decoder made no progress');
    }
  }

  private describe(ret: number): string {
    // xz_dec_catrun starts a new stream after a complete one, so bytes after the end surface
    // as a bad stream header, or as a truncated one if fewer than 12 bytes follow.
    if (this.producedOutput && ret === XZ_FORMAT_ERROR) return 'the xz data has trailing garbage after the end of the stream';
    if (this.producedOutput && ret === XZ_BUF_ERROR) return 'the xz stream is truncated or followed by trailing garbage';
    return XZ_MESSAGES[ret] ?? `xz decoding failed with code ${ret}`;
  }

  private words(): Uint32Array {
    return new Uint32Array(this.xz.memory.buffer, this.context, 6);
  }

  private checkAlive(): void {
    if (this.context === 0) throw new Error('XzDecoder used after end() or destroy()');
  }
}
