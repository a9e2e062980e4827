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
 * Serves a stored blob, after the caller's access check: HEAD, single byte ranges (206 /
 * 416) with `Accept-Ranges: bytes`, an ETag from the content hash, and no
 * `Content-Encoding` unless given in `headers` (Nix decodes NARs itself; the header would
 * make it decode twice). The bytes go through the server, or by the host's
 * `FORGE_SERVE_DIRECT` as a redirect to a presigned URL or an nginx X-Accel-Redirect.
 */
export type ServeBlob = (req: Request, res: Response, options: ServeBlobOptions) => Promise<void>;
