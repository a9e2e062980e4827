/**
 * Streaming decompression of NAR files for the compressions this cache supports:
 * `none`, `xz` and `lzip` (liblzma in wasm, see `xz-decoder.ts`), `zstd` (libzstd: in
 * `node:zlib` from Node 24 on, else through the `zstd-napi` addon, else fzstd's
 * streaming `Decompress` where the addon did not build),
 * `bzip2` (`bzip2-decoder.ts`), `gzip` and `br` (node:zlib). Everything else Nix can
 * write (lz4, lzma, compress; lzop, grzip and lrzip need external programs) is refused
 * with a {@link CompressionError} naming the supported set (see docs/nix-cache.md).
 *
 * The core is push-based: `write(chunk)` resolves once everything that chunk decodes to
 * has been handed to the `onData` sink, which is how the NAR verifier applies backpressure
 * (the HTTP layer awaits each write before reading more of the request). The sink may
 * return a promise to say "wait": liblzma, libzstd and zlib then decode nothing more until
 * it settles, so output never piles up however well a bomb compresses (fzstd, which cannot
 * pause, gets its input in small slices instead). Memory stays constant: xz and zstd keep
 * only their window, zlib its own buffers. `maxOutputSize` stops a decompression bomb as
 * soon as it is exceeded.
 */
import { Buffer } from 'node:buffer';
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { createBrotliDecompress, createGunzip, type BrotliDecompress, type Gunzip } from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';
import { assertSupportedCompression, type CompressionName } from './compression.js';
import { CompressionError, NixFormatError, SizeLimitError } from './errors.js';
import { Bzip2Decoder } from './bzip2-decoder.js';
import { XzDecoder, type LzmaFormat } from './xz-decoder.js';
import { ZstdFrameGuard } from './zstd-frames.js';

/** Options of {@link createDecompressor}. */
export interface DecompressorOptions {
  /** Fail with a {@link SizeLimitError} once the output exceeds this many bytes. */
  maxOutputSize?: number;
  /** Which zstd decoder to use (default: {@link defaultZstdDecoder}). */
  zstdDecoder?: ZstdDecoderName;
}

/** `zlib`: libzstd in node:zlib; `libzstd`: libzstd through the zstd-napi addon; `fzstd`: JavaScript. */
export type ZstdDecoderName = 'zlib' | 'libzstd' | 'fzstd';

type ZlibZstdStream = Gunzip;
/**
 * node:zlib has libzstd from Node 22.15 and 23.8 on (`zlib.createZstdDecompress`): the same
 * library as the addon, with nothing to build. It is used from Node 24 on: on Node 22
 * (22.23.5 tried) the stream misses a truncated frame (it ends without an error) and, fed
 * a few bytes at a time, reports the start of a second concatenated frame as trailing
 * garbage; the unit tests of every decoder (compression.test.ts) pass on Node 24.
 */
const NODE_MAJOR = Number(process.versions.node.split('.')[0]);
const zlibZstdFactory = (zlib as unknown as { createZstdDecompress?: (options?: { chunkSize?: number }) => ZlibZstdStream }).createZstdDecompress;
const createZlibZstd = NODE_MAJOR >= 24 ? zlibZstdFactory : undefined;

/** libzstd's streaming decompression context, as `zstd-napi` exposes it. */
interface NativeDCtx {
  /** `ZSTD_decompressStream`: [return value (0 at a frame's end), bytes produced, bytes consumed]. */
  decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number];
}

/**
 * libzstd decodes 2–7× faster than fzstd (JavaScript) and makes no garbage. Where node:zlib
 * has it, nothing more is needed; on Node 20 it comes from the `zstd-napi` addon, built from
 * source at install (`allowScripts` in package.json), and a machine where that build failed
 * still works, on fzstd. The addon is loaded only when it is used: on Node ≥ 22.15 never,
 * unless a caller asks for it by name.
 */
let nativeZstd: (new () => NativeDCtx) | null | undefined;
function loadNativeZstd(): (new () => NativeDCtx) | null {
  if (nativeZstd === undefined) {
    try {
      nativeZstd = (createRequire(import.meta.url)('zstd-napi/binding') as { DCtx: new () => NativeDCtx }).DCtx;
    } catch {
      nativeZstd = null;
    }
  }
  return nativeZstd;
}

/** Whether a zstd decoder can run in this process (`libzstd` loads the addon to find out). */
export function zstdDecoderAvailable(name: ZstdDecoderName): boolean {
  return name === 'fzstd' || (name === 'zlib' ? createZlibZstd !== undefined : loadNativeZstd() !== null);
}

/** The zstd decoder used by default: node:zlib's on Node ≥ 24, else the addon's, else fzstd. */
export const defaultZstdDecoder: ZstdDecoderName = createZlibZstd ? 'zlib' : loadNativeZstd() ? 'libzstd' : 'fzstd';

/** A push-based decompressor (see module documentation). Writes must not overlap: await each one. */
export interface Decompressor {
  /** Decompresses `chunk`; resolves when all its output went to the sink. The chunk is not retained. */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends the input; resolves when the last output went to the sink and the stream was complete. */
  end(): Promise<void>;
  /** Abandons decoding and frees resources (the xz wasm context). Idempotent. */
  destroy(): void;
  /** Bytes handed to the sink so far. */
  readonly bytesOut: number;
}

/**
 * Creates a decompressor for `compression` that hands its output to `onData`. The sink may
 * throw to abort (the error rejects the pending `write`/`end`), and may return a promise to
 * hold the decoder until it settles (a rejection aborts too). The output chunk is only
 * valid during the call (it may be a view of a reused buffer): consume it before returning.
 */
export function createDecompressor(
  compression: CompressionName,
  onData: Sink,
  options: DecompressorOptions = {},
): Decompressor {
  assertSupportedCompression(compression);
  const limit = options.maxOutputSize ?? Number.POSITIVE_INFINITY;
  let bytesOut = 0;
  const sink = (chunk: Uint8Array): void | Promise<void> => {
    bytesOut += chunk.length;
    if (bytesOut > limit) throw new SizeLimitError(`decompressed data exceeds the limit of ${limit} bytes`, limit);
    if (chunk.length > 0) return onData(chunk);
  };
  const base = (() => {
    switch (compression) {
      case 'none':
        return passThrough(sink);
      case 'xz':
        return xz(sink, 'xz');
      case 'lzip':
        return xz(sink, 'lzip');
      case 'zstd': {
        const decoder = options.zstdDecoder ?? defaultZstdDecoder;
        return decoder === 'zlib' ? zstdZlib(sink) : decoder === 'libzstd' ? zstdNative(sink) : zstd(sink);
      }
      case 'bzip2':
        return bzip2(sink);
      case 'gzip':
        return zlibStream(createGunzip({ chunkSize: 64 * 1024 }), sink, 'gzip');
      case 'br':
        return zlibStream(createBrotliDecompress({ chunkSize: 64 * 1024 }), sink, 'brotli');
    }
  })();
  return {
    write: (chunk) => base.write(chunk),
    end: () => base.end(),
    destroy: () => base.destroy(),
    get bytesOut() {
      return bytesOut;
    },
  };
}

/** Receives decompressed output; may return a promise to hold the decoder (see above). */
export type Sink = (chunk: Uint8Array) => void | Promise<void>;
type Core = Pick<Decompressor, 'write' | 'end' | 'destroy'>;

function passThrough(sink: Sink): Core {
  return {
    write: async (chunk) => sink(chunk),
    end: async () => {},
    destroy: () => {},
  };
}

function xz(sink: Sink, format: LzmaFormat): Core {
  let decoder: XzDecoder | undefined;
  let destroyed = false;
  const get = async (): Promise<XzDecoder> => {
    decoder ??= await XzDecoder.create(sink, format);
    if (destroyed) {
      decoder.destroy();
      throw new CompressionError(`${format} decompression was aborted`);
    }
    return decoder;
  };
  return {
    write: async (chunk) => (await get()).write(chunk),
    end: async () => (await get()).end(),
    destroy: () => {
      destroyed = true;
      decoder?.destroy();
    },
  };
}

function bzip2(sink: Sink): Core {
  const decoder = new Bzip2Decoder(sink);
  return {
    write: (chunk) => decoder.write(chunk),
    end: () => decoder.end(),
    destroy: () => decoder.destroy(),
  };
}

/** What both zstd decoders share: the frame guard, a sticky failure, the empty-stream check. */
function zstdCore(
  decoder: { push(chunk: Uint8Array): void | Promise<void>; finish(): void | Promise<void>; destroy?(): void },
  toError: (err: unknown) => unknown,
): Core {
  const guard = new ZstdFrameGuard();
  let failed: unknown;
  let sawInput = false;
  const run = async (f: () => void | Promise<void>): Promise<void> => {
    if (failed !== undefined) throw failed;
    try {
      await f();
    } catch (err) {
      failed = toError(err);
      throw failed;
    }
  };
  return {
    write: async (chunk) => {
      if (chunk.length === 0) return;
      sawInput = true;
      await run(() => {
        // Headers are checked before the decoder sees them: fzstd allocates the declared window at once.
        guard.check(chunk);
        return decoder.push(chunk);
      });
    },
    end: async () => {
      if (!sawInput) throw new CompressionError('the zstd stream is empty');
      await run(() => decoder.finish());
    },
    destroy: () => decoder.destroy?.(),
  };
}

/** libzstd in node:zlib, driven like gzip and brotli (pauses while the sink waits, trailing bytes refused). */
function zstdZlib(sink: Sink): Core {
  if (!createZlibZstd) throw new Error('node:zlib has no zstd in this Node version');
  const inner = zlibStream(createZlibZstd({ chunkSize: 64 * 1024 }), sink, 'zstd');
  return zstdCore({ push: (chunk) => inner.write(chunk), finish: () => inner.end(), destroy: () => inner.destroy() }, (err) => err);
}

/**
 * fzstd cannot pause inside `push`, so it gets its input in slices this small: one slice
 * decodes to at most a few MiB (a 4-byte RLE block is 128 KiB of output), and the sink's
 * promise is awaited between slices.
 */
const FZSTD_SLICE = 1024;

function zstd(sink: Sink): Core {
  let pending: Promise<void> | undefined;
  let sinkError: unknown;
  const decoder = new ZstdDecompress((chunk) => {
    if (sinkError !== undefined) return;
    try {
      const p = sink(chunk);
      if (isThenable(p)) pending = pending ? pending.then(() => p) : p;
    } catch (err) {
      // Thrown through fzstd would leave it in an unknown state: rethrow after push returns.
      sinkError = err;
    }
  });
  const settle = async (): Promise<void> => {
    if (sinkError !== undefined) throw sinkError;
    if (pending) {
      const p = pending;
      pending = undefined;
      await p;
    }
  };
  return zstdCore(
    {
      push: async (chunk) => {
        for (let pos = 0; pos < chunk.length; pos += FZSTD_SLICE) {
          decoder.push(chunk.subarray(pos, pos + FZSTD_SLICE));
          await settle();
        }
      },
      finish: () => {
        decoder.push(new Uint8Array(0), true);
        if (sinkError !== undefined) throw sinkError;
      },
    },
    (err) => (isZstdError(err) ? new CompressionError(`the zstd data is corrupt: ${(err as Error).message}`) : err),
  );
}

/** libzstd's output buffer: ZSTD_DStreamOutSize() (one block, 128 KiB). */
const ZSTD_OUT = 128 * 1024;

function zstdNative(sink: Sink): Core {
  const NativeZstd = loadNativeZstd();
  if (!NativeZstd) throw new Error('libzstd (zstd-napi) is not available on this machine');
  const dctx = new NativeZstd();
  // One output buffer per decoder, reused: the sink's chunk is only valid during its call.
  const out = Buffer.allocUnsafe(ZSTD_OUT);
  let inFrame = false;
  const push = async (chunk: Uint8Array): Promise<void> => {
    let src = chunk;
    for (;;) {
      let step: [number, number, number];
      try {
        step = dctx.decompressStream(out, src);
      } catch (err) {
        // libzstd's errors are plain Errors naming the problem ("Restored data doesn't match checksum").
        throw new CompressionError(`the zstd data is corrupt: ${(err as Error).message}`);
      }
      const [ret, produced, consumed] = step;
      if (produced > 0) {
        const p = sink(out.subarray(0, produced));
        if (p) await p;
      }
      src = src.subarray(consumed);
      // Done with this input once it is consumed and libzstd has nothing more to flush.
      if (src.length === 0 && (produced < out.length || ret === 0)) {
        inFrame = ret !== 0;
        return;
      }
    }
  };
  const finish = (): void => {
    if (inFrame) throw new CompressionError('the zstd data is truncated (the stream ends inside a frame)');
  };
  return zstdCore({ push, finish }, (err) => err);
}

/** fzstd throws plain Errors with a numeric `code` (ZstdErrorCode). */
function isZstdError(err: unknown): boolean {
  return err instanceof Error && !(err instanceof NixFormatError) && typeof (err as { code?: unknown }).code === 'number';
}

function zlibStream(stream: Gunzip | BrotliDecompress, sink: Sink, label: string): Core {
  let failure: unknown;
  let ended = false;
  const waiters = new Set<(err: unknown) => void>();
  const fail = (err: unknown): void => {
    if (failure !== undefined) return;
    failure = isZlibError(err) ? new CompressionError(`the ${label} data is corrupt: ${describeZlibError(err)}`) : err;
    stream.destroy();
    for (const w of waiters) w(failure);
  };
  stream.on('data', (chunk: Buffer) => {
    // A throwing sink (the NAR parser rejecting the data, or the size limit) must not
    // escape an event handler: it becomes the stream's failure.
    try {
      const pending = sink(chunk);
      if (isThenable(pending)) {
        // Paused, zlib stops decoding once its small output buffer is full (Node's zlib
        // checks push()'s answer), so a bomb cannot run ahead of the sink.
        stream.pause();
        pending.then(() => {
          if (failure === undefined) stream.resume();
        }, fail);
      }
    } catch (err) {
      fail(err);
    }
  });
  stream.on('error', fail);
  let bytesIn = 0;
  stream.on('end', () => {
    ended = true;
    // zlib stops at the end of the compressed stream and silently drops what follows
    // (brotli always, gzip for zero bytes); bytesWritten counts what it consumed.
    if (stream.bytesWritten < bytesIn) {
      fail(new CompressionError(`the ${label} data has ${bytesIn - stream.bytesWritten} bytes of trailing garbage after the end of the stream`));
    }
    for (const w of waiters) w(undefined);
  });
  const wait = (start: (done: (err: unknown) => void) => void): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (failure !== undefined) return reject(failure);
      const done = (err: unknown): void => {
        waiters.delete(done);
        if (err !== undefined && err !== null) reject(err);
        else if (failure !== undefined) reject(failure);
        else resolve();
      };
      waiters.add(done);
      start(done);
    });
  return {
    // Node's zlib calls the write callback after the chunk's output was pushed, and with a
    // 'data' listener attached that output reached the sink synchronously.
    write: (chunk) =>
      wait((done) => {
        bytesIn += chunk.length;
        stream.write(chunk, (err) => done(err));
      }),
    end: () =>
      wait((done) => {
        if (ended) done(undefined);
        else stream.end();
      }),
    destroy: () => {
      if (failure === undefined) failure = new CompressionError(`${label} decompression was aborted`);
      stream.destroy();
      // A write in flight may never get its callback once the stream is destroyed.
      for (const w of waiters) w(failure);
    },
  };
}

/** Whether a sink asked to wait (a sink written as an expression may return anything else). */
function isThenable(value: unknown): value is Promise<void> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function';
}

/** zlib reports bad data with `Z_*` / `ERR_BROTLI_*` codes; anything else (a sink's error) passes through. */
function isZlibError(err: unknown): err is Error {
  if (!(err instanceof Error) || err instanceof NixFormatError) return false;
  const code = (err as { code?: unknown }).code;
  // Brotli decoder errors are `ERR__ERROR_FORMAT_…`, `ERR__ERROR_UNREACHABLE`, ….
  return (
    typeof code === 'string' &&
    (code.startsWith('Z_') || code.startsWith('ERR__') || code.startsWith('ERR_BROTLI') || code.startsWith('ERR_ZLIB') || code.startsWith('ZSTD_error_'))
  );
}

function describeZlibError(err: Error): string {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'Z_BUF_ERROR' || /unexpected end/i.test(err.message)) return 'the stream is truncated';
  if (code.startsWith('ERR__ERROR_')) return `not valid brotli data (${code.slice('ERR__'.length)})`;
  return err.message;
}

/**
 * Decompresses an async iterable of chunks (e.g. a file read stream) into an async
 * iterable of output chunks, for `Readable.from()`. Output is produced per input slice, so
 * memory held at once is bounded by the compression ratio of about 64 KiB of input.
 */
export async function* decompressChunks(
  source: AsyncIterable<Uint8Array>,
  compression: CompressionName,
  options: DecompressorOptions = {},
): AsyncGenerator<Uint8Array, void, undefined> {
  let pending: Uint8Array[] = [];
  const decompressor = createDecompressor(
    compression,
    (chunk) => {
      pending.push(Uint8Array.from(chunk));
    },
    options,
  );
  try {
    for await (const input of source) {
      for (let pos = 0; pos < input.length; pos += 64 * 1024) {
        await decompressor.write(input.subarray(pos, pos + 64 * 1024));
        const out = pending;
        pending = [];
        yield* out;
      }
    }
    await decompressor.end();
    yield* pending;
  } finally {
    decompressor.destroy();
  }
}
