import cookieParser from 'cookie-parser';
import express, { type RequestHandler, type Router } from 'express';
import helmet from 'helmet';
import { assertNoEncodedNul, BadRequestError, multilineTextProblem, textProblem } from '@forge/core';
import { deriveSecret } from '@forge/keys';
import { accountRoutes } from './account/sign-in.js';
import { storageAdminRoutes, type StorageAdministration } from './admin/storage-admin.js';
import { tokenRoutes } from './account/tokens.js';
import { homeRoutes } from './home.js';
import { createOrgRoutes } from './owners/create-org.js';
import { ownerSettingsRoutes } from './owners/owner-settings.js';
import { packageRoutes } from './packages/package-pages.js';
import { Assets } from './shell/assets.js';
import { uiErrorHandler, uiNotFound } from './shell/errors.js';
import { Shell, type WebUiDeps } from './shell/shell.js';

export interface WebUiOptions extends Omit<WebUiDeps, 'sessionKey'> {
  /** The server secret; the session and CSRF keys are derived from it. */
  secret: Uint8Array;
  /** Usage and quotas of every owner, for the site administrators' storage page. */
  storage?: StorageAdministration;
}

/** Addresses that belong to the APIs (or the health check), never to the UI. */
function isApiPath(path: string): boolean {
  return path === '/api' || path.startsWith('/api/') || path === '/healthz';
}

/**
 * The web UI: one router the host mounts after its API routers and before its 404. It
 * handles every address outside `/api/`, so UI errors are HTML pages while API errors
 * keep their plain-text and JSON forms. Build it after the modules registered: their
 * pages, views, panels and assets are read here.
 */
export function createWebUi(options: WebUiOptions): Router {
  const { secret, storage, ...rest } = options;
  const deps: WebUiDeps = { ...rest, sessionKey: deriveSecret(secret, 'session') };
  const assets = new Assets({ css: deps.ui.styles, js: deps.ui.scripts });
  const shell = new Shell(deps, assets);
  const secure = deps.baseUrl.startsWith('https:');

  const router = express.Router();
  router.use((req, _res, next) => (isApiPath(req.path) ? next('router') : next()));
  router.use(assets.router());
  router.use(
    helmet({
      // Only the server's own files; no inline script or style anywhere, so text that
      // escaped escaping still could not run.
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          scriptSrcAttr: ["'none'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          fontSrc: ["'self'"],
          connectSrc: ["'self'"],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          formAction: ["'self'"],
          frameAncestors: ["'none'"],
          ...(secure ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: secure ? { maxAge: 180 * 24 * 3600 } : false,
      referrerPolicy: { policy: 'same-origin' },
      xFrameOptions: { action: 'deny' },
    }),
  );
  router.use((req, _res, next) => {
    assertNoEncodedNul(req.originalUrl);
    next();
  });
  router.use(cookieParser());
  router.use(express.urlencoded({ extended: false, limit: '256kb', parameterLimit: 200 }));
  router.use(refuseUnstorableFormText);
  router.use(shell.sessionMiddleware());
  router.use(shell.csrfMiddleware());

  router.use(homeRoutes(shell));
  router.use(accountRoutes(shell));
  router.use(tokenRoutes(shell));
  router.use(createOrgRoutes(shell));
  router.use(ownerSettingsRoutes(shell));
  if (storage) router.use(storageAdminRoutes(shell, storage));
  router.use(packageRoutes(shell));

  router.use(uiNotFound);
  router.use(uiErrorHandler(shell));
  return router;
}

/**
 * Form fields go to the database (names, searches) or into keys and settings: a NUL byte
 * or a lone surrogate in any of them is refused as a 400 page before a handler sees it.
 * (Fields check their own rules beyond that; multi-line text such as a pasted key keeps
 * its line breaks.)
 */
const refuseUnstorableFormText: RequestHandler = (req, _res, next) => {
  const body = req.body as Record<string, unknown> | undefined;
  if (body && typeof body === 'object') {
    for (const [field, value] of Object.entries(body)) {
      for (const text of [field, ...([] as unknown[]).concat(value)]) {
        const problem = typeof text === 'string' ? multilineTextProblem(text) : null;
        if (problem) throw new BadRequestError(`${textProblem(field) ? 'a form field' : `the form field "${field.slice(0, 40)}"`} ${problem}`);
      }
    }
  }
  next();
};
