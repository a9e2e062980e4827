import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import { ForgeError, isForgeError, NotFoundError, type Logger } from '@forge/core';

/**
 * The one place where errors become HTTP responses. API errors are plain text under
 * /api/packages (as Gitea's package routes answer, and readable in `nix copy` output) and
 * JSON under /api/v1.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, _next) => {
    // (req.destroyed alone means nothing: Node destroys a request once its body was read.)
    const aborted =
      res.destroyed || req.socket?.destroyed || (err as NodeJS.ErrnoException)?.code === 'ECONNRESET' || (err as Error)?.message === 'aborted';
    if (aborted) {
      logger.info('client went away', { method: req.method, url: req.originalUrl });
      if (!res.destroyed) res.destroy();
      return;
    }
    const known: ForgeError = isForgeError(err) ? err : clientError(err) ?? internal(err, req, logger);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    for (const [k, v] of Object.entries(known.headers)) res.setHeader(k, v);
    // The body of a refused upload was not read: don't let it be parsed as the next request.
    if (!req.complete) res.setHeader('Connection', 'close');
    res.status(known.status);
    if (req.path.startsWith('/api/v1/')) {
      if (req.method === 'HEAD') res.end();
      else res.json({ message: known.message, code: known.code });
      return;
    }
    // Written directly rather than through res.send (content negotiation, ETag and freshness
    // checks): a 404 for a narinfo is the most common answer a Nix cache gives.
    const body = Buffer.from(known.message + '\n', 'utf8');
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', String(body.length));
    res.end(req.method === 'HEAD' ? undefined : body);
  };
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

function internal(err: unknown, req: Request, logger: Logger): ForgeError {
  logger.error('request failed', {
    method: req.method,
    url: req.originalUrl,
    err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
  });
  return new ForgeError(500, 'internal', 'internal server error');
}

export const notFound: RequestHandler = (req, _res, next) => {
  next(new NotFoundError(`no route for ${req.method} ${req.path}`));
};

export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('close', () => {
      logger.info('request', {
        method: req.method,
        url: req.originalUrl,
        status: res.statusCode,
        ms: Number(process.hrtime.bigint() - start) / 1e6,
        aborted: !res.writableFinished,
      });
    });
    next();
  };
}
