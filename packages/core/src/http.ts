import type { Request, Response } from 'express';

export interface ServeBlobOptions {
  sha256: string;
  size: number;
  contentType: string;
  /** Sets `Content-Disposition: attachment; filename=…`. */
  downloadName?: string;
  /** Extra response headers, e.g. `Cache-Control`. */
  headers?: Record<string, string>;
}

/**
 * Serves a stored blob: HEAD, single byte ranges (206 / 416) with `Accept-Ranges: bytes`,
 * an ETag from the content hash, and never a `Content-Encoding` (Nix decodes NARs itself;
 * the header would make it decode twice).
 */
export type ServeBlob = (req: Request, res: Response, options: ServeBlobOptions) => Promise<void>;
