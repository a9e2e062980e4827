import { open, type FileHandle } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { NotFoundError, RangeNotSatisfiableError, type BlobStore, type ByteRange, type Logger, type ServeBlob, type ServeBlobOptions } from '@forge/core';
import { blobKey } from '@forge/blob-store';
import type { ServeDirectConfig } from './config.js';

/**
 * Local blobs are sent from a small pool of reused buffers: each download reads a chunk
 * while the previous one is being written, so it holds at most two buffers, and a busy
 * server allocates nothing per MiB sent. (fs.createReadStream allocates a fresh buffer for
 * every read; at 1 MiB per read a fast client made the garbage collector the largest item
 * in the profile, 20 % of the CPU, see docs/benchmarks.md.)
 */
const READ_CHUNK = 256 * 1024;
const POOL_MAX = 64;
const pool: Buffer[] = [];
const takeBuffer = () => pool.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK);
const giveBuffer = (b: Buffer) => {
  if (pool.length < POOL_MAX) pool.push(b);
};

class ClientGone extends Error {}

/** Writes bytes [start, end] of an open local file to the response, then ends it. */
async function sendLocalFile(handle: FileHandle, file: string, res: Response, start: number, end: number): Promise<void> {
  // A hang-up settles the write in flight even if the socket never calls back.
  let hangUp: (() => void) | null = null;
  const onClose = () => hangUp?.();
  res.once('close', onClose);
  try {
    let position = start;
    // The write in flight; its buffer goes back to the pool once the socket took it.
    let writing: Promise<void> | null = null;
    while (position <= end) {
      const buffer = takeBuffer();
      const { bytesRead } = await handle.read(buffer, 0, Math.min(READ_CHUNK, end - position + 1), position);
      // Checked before the headers went out, so only a file cut while being sent gets here:
      // the error destroys the socket, and the client sees a short answer, never a whole one.
      if (bytesRead === 0) throw new Error(`${file} is shorter than its recorded size`);
      position += bytesRead;
      if (writing) await writing;
      if (res.destroyed) throw new ClientGone();
      writing = new Promise<void>((resolve, reject) => {
        hangUp = () => reject(new ClientGone());
        res.write(buffer.subarray(0, bytesRead), (err) => {
          // A failed write may still reference the buffer: never reuse it then.
          if (err) reject(new ClientGone());
          else {
            giveBuffer(buffer);
            resolve();
          }
        });
      });
      // Catch early so a client that hangs up mid-read is not an unhandled rejection.
      writing.catch(() => {});
    }
    if (writing) await writing;
    await new Promise<void>((resolve) => {
      hangUp = resolve;
      res.end(resolve);
    });
  } finally {
    res.off('close', onClose);
  }
}

/**
 * Opens a local blob and checks it holds exactly the bytes its row records, before any
 * header leaves: a blob deleted or cut short in storage (a disk fault, a hand-made
 * "cleanup") must be a 404, never a 500 or a partial body. Nix falls back to building on a
 * 404; on 500s it gives up ("try --fallback"), and Nix 2.8 even aborts with --fallback.
 */
async function openChecked(file: string, expectedSize: number): Promise<{ handle: FileHandle } | { problem: string }> {
  let handle: FileHandle;
  try {
    handle = await open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { problem: 'missing' };
    throw err;
  }
  const { size } = await handle.stat();
  if (size !== expectedSize) {
    await handle.close();
    return { problem: `${size} bytes stored, ${expectedSize} recorded` };
  }
  return { handle };
}

/**
 * Serves a blob after the caller's access check: headers, conditional requests and range
 * validation here, then the bytes by one of three ways (`FORGE_SERVE_DIRECT`):
 * - `off`: streamed by this process (local files from the buffer pool, S3 objects piped);
 * - `redirect`: `302` to a presigned GET of the object, valid `expirySeconds`, carrying the
 *   response headers as S3 `response-*` overrides; the client sends its `Range` there;
 * - `accel`: an empty answer with `X-Accel-Redirect` to nginx's internal location, which
 *   sends the file with sendfile and applies the `Range` itself (docs/deployment.md).
 * HEAD, `304` and `416` are always answered here: nothing to move, and the same headers
 * whatever the mode.
 */
export function createServeBlob(
  blobs: BlobStore,
  direct: ServeDirectConfig = { mode: 'off', expirySeconds: 300, accelLocation: '/_forge_blobs/' },
  logger?: Logger,
): ServeBlob {
  /** A stored blob its row names is gone or damaged: an error for the operator, a 404 for the client. */
  const damaged = (req: Request, res: Response, options: ServeBlobOptions, problem: string): never => {
    const sha256 = options.sha256;
    // Headers set for the blob must not label the error's answer.
    for (const name of ['Content-Type', 'ETag', 'Accept-Ranges', 'Content-Disposition', 'Content-Length', 'Content-Range', ...Object.keys(options.headers ?? {})]) res.removeHeader(name);
    logger?.error('blob missing or damaged in storage: answered 404 (forge admin doctor lists them all)', { sha256, problem, url: req.originalUrl });
    throw new NotFoundError('the stored bytes of this file are missing');
  };
  return async (req: Request, res: Response, options: ServeBlobOptions) => {
    const local = options.size > 0 ? blobs.localPath(options.sha256) : null;
    let handle: FileHandle | undefined;
    if (local) {
      const checked = await openChecked(local, options.size);
      if ('problem' in checked) return damaged(req, res, options, checked.problem);
      handle = checked.handle;
    }
    try {
      const etag = `"${options.sha256}"`;
      res.setHeader('Content-Type', options.contentType);
      res.setHeader('ETag', etag);
      res.setHeader('Accept-Ranges', 'bytes');
      if (options.downloadName) res.setHeader('Content-Disposition', contentDisposition(options.downloadName));
      for (const [k, v] of Object.entries(options.headers ?? {})) res.setHeader(k, v);

      if (req.headers['if-none-match'] === etag) {
        res.status(304).end();
        return;
      }

      let range: ByteRange | undefined;
      const ifRange = req.headers['if-range'];
      if (req.headers.range && (!ifRange || ifRange === etag)) range = parseRange(req.headers.range, options.size);

      await answer(req, res, options, range, local, handle);
    } finally {
      await handle?.close();
    }
  };

  async function answer(req: Request, res: Response, options: ServeBlobOptions, range: ByteRange | undefined, local: string | null, handle: FileHandle | undefined): Promise<void> {
    if (req.method === 'GET' && options.size > 0) {
      if (direct.mode === 'accel') return accel(res, options, direct.accelLocation);
      if (direct.mode === 'redirect') {
        const url = await blobs.presignGet(options.sha256, {
          expiresInSeconds: direct.expirySeconds,
          contentType: options.contentType,
          cacheControl: header(res, 'Cache-Control'),
          contentDisposition: header(res, 'Content-Disposition'),
          contentEncoding: header(res, 'Content-Encoding'),
        });
        if (url) return redirect(res, url);
      }
    }

    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${options.size}`);
      res.setHeader('Content-Length', String(range.end - range.start + 1));
    } else {
      res.status(200);
      res.setHeader('Content-Length', String(options.size));
    }
    if (req.method === 'HEAD' || options.size === 0) {
      res.end();
      return;
    }

    let stream;
    if (!handle) {
      try {
        stream = await blobs.open(options.sha256, range);
      } catch (err) {
        if (err instanceof NotFoundError) return damaged(req, res, options, 'missing');
        throw err;
      }
    }
    try {
      if (handle && local) await sendLocalFile(handle, local, res, range?.start ?? 0, range?.end ?? options.size - 1);
      else await pipeline(stream!, res);
    } catch (err) {
      if (err instanceof ClientGone) return;
      // A client that hangs up mid-download is routine; anything else is worth a log line upstream.
      if (!res.destroyed && !req.socket?.destroyed) throw err;
    }
  }
}

/**
 * nginx replaces this empty answer with the file at `<location>aa/bb/<sha256>`, keeping
 * Content-Type, Cache-Control, Content-Disposition and Accept-Ranges from it; the
 * documented location restores ETag and Content-Encoding from `$upstream_http_*`.
 */
function accel(res: Response, options: ServeBlobOptions, location: string): void {
  res.status(200);
  res.setHeader('X-Accel-Redirect', `${location}${blobKey(options.sha256)}`);
  // Whatever nginx reads from an upstream answer it discards; an empty body keeps the
  // upstream connection reusable.
  res.setHeader('Content-Length', '0');
  res.end();
}

/** A presigned URL is a bearer credential for a few minutes: the redirect itself is never cached. */
function redirect(res: Response, url: string): void {
  for (const name of ['ETag', 'Accept-Ranges', 'Content-Disposition', 'Content-Encoding']) res.removeHeader(name);
  res.status(302);
  res.setHeader('Location', url);
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Type', 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', '0');
  res.end();
}

function header(res: Response, name: string): string | undefined {
  const value = res.getHeader(name);
  return value === undefined ? undefined : String(value);
}

/**
 * One `bytes=` range (RFC 9110 §14.1.2). Multiple ranges are answered with the whole
 * body, which the RFC allows; Nix only ever resumes with a single open-ended range.
 */
export function parseRange(header: string, size: number): ByteRange | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m;
  if (a === '' && b === '') return undefined;
  let start: number;
  let end: number;
  if (a === '') {
    const suffix = Number(b);
    if (suffix === 0) throw new RangeNotSatisfiableError(size);
    start = Math.max(size - suffix, 0);
    end = size - 1;
  } else {
    start = Number(a);
    end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  }
  if (start >= size || start > end) throw new RangeNotSatisfiableError(size);
  return { start, end };
}

function contentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}
