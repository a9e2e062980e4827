/**
 * A guard that walks the frame structure of a zstd stream (RFC 8878 §3.1) ahead of the
 * decoder and refuses frames whose window is too large.
 *
 * Why: fzstd allocates each frame's whole window up front from the header, and shifts it
 * on every block. A 20-byte upload declaring a 2 GiB window would make the server allocate
 * (and then move) 2 GiB. libzstd, which Nix uses through libarchive, refuses windows above
 * 2^27 bytes by default (ZSTD_WINDOWLOG_LIMIT_DEFAULT), so nothing Nix can read is lost
 * by refusing them here first. Only headers are parsed; block contents are skipped.
 */
import { CompressionError } from './errors.js';

/** Largest zstd window accepted: libzstd's default decoder limit (128 MiB). */
export const ZSTD_MAX_WINDOW = 2 ** 27;

const S_MAGIC = 0; // 4 bytes: a frame's magic number
const S_HEADER = 1; // the rest of a zstd frame header (length known after its first byte)
const S_BLOCK_HEADER = 2; // 3 bytes
const S_SKIP = 3; // bytes to pass over: block contents, checksum, skippable frame body
const S_SKIPPABLE_SIZE = 4; // 4 bytes: size of a skippable frame

export class ZstdFrameGuard {
  private state = S_MAGIC;
  private readonly buf = new Uint8Array(18);
  private fill = 0;
  /** Bytes the current field still needs (header fields) or to skip. */
  private need = 4;
  private checksum = false;
  private lastBlock = false;

  constructor(private readonly maxWindow: number = ZSTD_MAX_WINDOW) {}

  /** Inspects the next input bytes; throws a {@link CompressionError} for a frame it refuses. */
  check(chunk: Uint8Array): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (this.state === S_SKIP) {
        const take = Math.min(this.need, chunk.length - pos);
        pos += take;
        this.need -= take;
        if (this.need === 0) this.afterSkip();
        continue;
      }
      const take = Math.min(this.need - this.fill, chunk.length - pos);
      this.buf.set(chunk.subarray(pos, pos + take), this.fill);
      this.fill += take;
      pos += take;
      if (this.fill === this.need) this.onField();
    }
  }

  private onField(): void {
    const b = this.buf;
    switch (this.state) {
      case S_MAGIC: {
        const magic = (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
        if (magic === 0xfd2fb528) {
          this.state = S_HEADER;
          this.need = 5; // magic + frame header descriptor; the rest follows from the descriptor
          return;
        }
        if ((magic & 0xfffffff0) === 0x184d2a50) {
          this.state = S_SKIPPABLE_SIZE;
          this.fill = 0;
          this.need = 4;
          return;
        }
        throw new CompressionError('the zstd data is corrupt: bad frame magic number');
      }
      case S_HEADER: {
        const fhd = b[4];
        const singleSegment = (fhd >> 5) & 1;
        const dictBytes = [0, 1, 2, 4][fhd & 3];
        const fcsBytes = [singleSegment, 2, 4, 8][fhd >> 6];
        const total = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
        if (this.need < total) {
          this.need = total;
          return;
        }
        if (fhd & 8) throw new CompressionError('the zstd data is corrupt: reserved frame header bit set');
        let window: number;
        if (singleSegment) {
          // The window is the content size.
          const at = 5 + dictBytes;
          window = 0;
          for (let i = fcsBytes - 1; i >= 0; i--) window = window * 256 + b[at + i];
          if (fcsBytes === 2) window += 256;
        } else {
          const exponent = b[5] >> 3;
          const base = 2 ** (10 + exponent);
          window = base + (base / 8) * (b[5] & 7);
        }
        if (window > this.maxWindow) {
          throw new CompressionError(
            `the zstd frame needs a ${window}-byte window, more than the ${this.maxWindow} bytes accepted (libzstd's default limit, which Nix uses too)`,
          );
        }
        this.checksum = ((fhd >> 2) & 1) === 1;
        this.toBlockHeader();
        return;
      }
      case S_BLOCK_HEADER: {
        const header = b[0] | (b[1] << 8) | (b[2] << 16);
        const type = (header >> 1) & 3;
        const size = header >> 3;
        if (type === 3) throw new CompressionError('the zstd data is corrupt: reserved block type');
        this.lastBlock = (header & 1) === 1;
        this.skip(type === 1 ? 1 : size);
        return;
      }
      case S_SKIPPABLE_SIZE: {
        this.lastBlock = true;
        this.checksum = false;
        this.skip((b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0);
        return;
      }
    }
  }

  private skip(n: number): void {
    this.state = S_SKIP;
    this.need = n;
    if (n === 0) this.afterSkip();
  }

  private afterSkip(): void {
    if (!this.lastBlock) return this.toBlockHeader();
    if (this.checksum) {
      this.checksum = false;
      return this.skip(4);
    }
    this.state = S_MAGIC;
    this.fill = 0;
    this.need = 4;
  }

  private toBlockHeader(): void {
    this.state = S_BLOCK_HEADER;
    this.fill = 0;
    this.need = 3;
  }
}
