import type { ErrorRequestHandler, RequestHandler } from 'express';
import { ForgeError, isForgeError, NotFoundError } from '@forge/core';
import { query } from './format.js';
import { SignInRequiredError, type Shell } from './shell.js';

const TITLES: Record<number, string> = {
  400: 'Bad request',
  403: 'Forbidden',
  404: 'Page not found',
  405: 'Method not allowed',
  409: 'Conflict',
  413: 'Too large',
  500: 'Something went wrong',
};

/** Unmatched UI addresses: an HTML 404 (API addresses never reach the UI router). */
export const uiNotFound: RequestHandler = (_req, _res, next) => next(new NotFoundError());

/**
 * Errors on UI routes become pages in the layout. The API keeps its plain-text and JSON
 * errors (apps/server's handler); this one only sees what the UI router raised.
 */
export function uiErrorHandler(shell: Shell): ErrorRequestHandler {
  return async (err, req, res, next) => {
    if (res.headersSent || res.destroyed) return next(err);
    if (err instanceof SignInRequiredError && (req.method === 'GET' || req.method === 'HEAD')) {
      res.redirect(303, '/user/login' + query({ redirect_to: req.originalUrl }));
      return;
    }
    let known: ForgeError;
    if (err instanceof SignInRequiredError) {
      known = new ForgeError(403, 'sign_in_required', 'Sign in first, then try again.');
    } else if (isForgeError(err)) {
      known = err;
    } else if (err instanceof URIError) {
      // The router could not decode a parameter (`/%FF`, an encoded lone surrogate).
      known = new ForgeError(400, 'bad_request', 'The address holds a malformed percent-encoding.');
    } else if (isClientError(err)) {
      known = new ForgeError(err.status, 'bad_request', err.message ?? 'bad request');
    } else if (isAbort(err)) {
      return next(err);
    } else {
      shell.deps.logger.error('page failed', {
        method: req.method,
        url: req.originalUrl,
        err: err instanceof Error ? { message: err.message, stack: err.stack } : String(err),
      });
      known = new ForgeError(500, 'internal', 'internal server error');
    }
    // The UI never challenges for credentials (a browser would pop up a password dialog)
    // and never tells an anonymous visitor that a page exists which they may not see.
    const status = known.status === 401 ? 404 : known.status;
    const title = TITLES[status] ?? (status >= 500 ? TITLES[500] : 'Error');
    const detail =
      status === 404
        ? 'The page does not exist, or you may not see it.'
        : status >= 500
          ? 'The server could not show this page. The error was logged; please try again later.'
          : known.message;
    try {
      await shell.render(
        req,
        res,
        {
          title,
          narrow: true,
          body: (
            <div class="error-page">
              <p class="error-code">{status}</p>
              <h1>{title}</h1>
              <p class="muted">{detail}</p>
              <p>
                <a class="btn" href="/">
                  Go to the start page
                </a>
              </p>
            </div>
          ),
        },
        status,
      );
    } catch (renderErr) {
      shell.deps.logger.error('error page failed', { err: String(renderErr) });
      if (!res.headersSent) res.status(status).type('text/plain; charset=utf-8').send(`${title}\n`);
    }
  };
}

function isClientError(err: unknown): err is { status: number; message?: string } {
  const e = err as { status?: unknown; type?: unknown };
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && typeof e.type === 'string';
}

function isAbort(err: unknown): boolean {
  const e = err as NodeJS.ErrnoException | undefined;
  return e?.code === 'ECONNRESET' || e?.message === 'aborted';
}
