import fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Request, Response } from 'express';
import { RangeNotSatisfiableError, type BlobStore, type ByteRange, type ServeBlob, type ServeBlobOptions } from '@forge/core';

/** Large reads: fewer syscalls and event-loop turns per MiB on NAR downloads. */
const READ_CHUNK = 1 << 20;

export function createServeBlob(blobs: BlobStore): ServeBlob {
  return async (req: Request, res: Response, options: ServeBlobOptions) => {
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

    const local = blobs.localPath(options.sha256);
    const source = local
      ? fs.createReadStream(local, { start: range?.start, end: range?.end, highWaterMark: READ_CHUNK })
      : await blobs.open(options.sha256, range);
    try {
      await pipeline(source, res);
    } catch (err) {
      // A client that hangs up mid-download is routine; anything else is worth a log line upstream.
      if (!res.destroyed && !req.socket?.destroyed) throw err;
    }
  };
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
