import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { requestIdOf } from './request-observer.js';
import { ForgeError, isForgeError, NotFoundError, type Logger } from '@forge/core';

/**
 * The one place where errors become HTTP responses. API errors are plain text under
 * /api/packages (as Gitea's package routes answer, and readable in `nix copy` output) and
 * JSON in Gitea's `APIError` shape under /api/v1: `{"message": …, "url": …}`, where `url`
 * is the API documentation (`apiDocsUrl`, Gitea's `/api/swagger`).
 */
export function errorHandler(logger: Logger, apiDocsUrl = ''): ErrorRequestHandler {
  return (err, req, res, _next) => writeError(req, res, err, logger, apiDocsUrl);
}

/**
 * Answers a request with an error; the express error handler and the host's fast lane
 * (plain node request and response) both come here.
 */
export function writeError(req: IncomingMessage & { originalUrl?: string }, res: ServerResponse, err: unknown, logger: Logger, apiDocsUrl = ''): void {
  const url = req.originalUrl ?? req.url ?? '';
  // (req.destroyed alone means nothing: Node destroys a request once its body was read.)
  const aborted =
    res.destroyed || req.socket?.destroyed || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET' || (err as Error)?.message === 'aborted';
  if (aborted) {
    logger.info('client went away', { method: req.method, url });
    if (!res.destroyed) res.destroy();
    return;
  }
  const known: ForgeError = isForgeError(err) ? err : clientError(err) ?? internal(err, req, url, logger);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const [k, v] of Object.entries(known.headers)) res.setHeader(k, v);
  // The body of a refused upload was not read: don't let it be parsed as the next request.
  if (!req.complete) res.setHeader('Connection', 'close');
  res.statusCode = known.status;
  // Written directly rather than through res.send (content negotiation, ETag and freshness
  // checks): a 404 for a narinfo is the most common answer a Nix cache gives.
  const json = url.startsWith('/api/v1/');
  const body = Buffer.from(json ? JSON.stringify({ message: known.message, url: apiDocsUrl }) : known.message + '\n', 'utf8');
  res.setHeader('Content-Type', json ? 'application/json; charset=utf-8' : 'text/plain; charset=utf-8');
  res.setHeader('Content-Length', String(body.length));
  res.end(req.method === 'HEAD' ? undefined : body);
}

/**
 * 4xx errors raised by express itself and its middleware (a body parser's 413, the
 * router's 400 for a malformed percent-encoding such as `nar/%`), which carry a status.
 */
function clientError(err: unknown): ForgeError | undefined {
  const e = err as { type?: string; status?: number; message?: string } | null;
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    if (err instanceof URIError) return new ForgeError(400, 'bad_request', 'malformed percent-encoding in the request path');
    return new ForgeError(e.status, typeof e.type === 'string' ? e.type : 'bad_request', e.message ?? 'bad request');
  }
  return undefined;
}

function internal(err: unknown, req: IncomingMessage, url: string, logger: Logger): ForgeError {
  logger.error('request failed', {
    id: requestIdOf(req),
    method: req.method,
    url,
    err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
  });
  return new ForgeError(500, 'internal', 'internal server error');
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`no route for ${req.method} ${req.path}`));
};
