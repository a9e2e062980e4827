import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { UnauthorizedError, type Actor, type Logger } from '@forge/core';
import { setActor } from './actor.js';
import type { PasswordSignIn } from './sign-in.js';
import type { TokenService } from './tokens.js';

export interface Credentials {
  kind: 'basic' | 'token';
  username?: string;
  secret: string;
}

/**
 * Reads credentials the way Gitea accepts them: a token as the Basic password (any or
 * empty username; Nix sends netrc entries this way, and a password-only entry gives an
 * empty username), `Authorization: token T` and `Authorization: Bearer T`.
 */
export function parseAuthorization(header: string | undefined): Credentials | null {
  if (!header) return null;
  const space = header.indexOf(' ');
  if (space < 0) return null;
  const scheme = header.slice(0, space).toLowerCase();
  const value = header.slice(space + 1).trim();
  if (scheme === 'token' || scheme === 'bearer') return { kind: 'token', secret: value };
  if (scheme !== 'basic') return null;
  const decoded = Buffer.from(value, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return { kind: 'basic', username: decoded, secret: '' };
  return { kind: 'basic', username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) };
}

export interface AuthenticateOptions {
  tokens: TokenService;
  /** Password checks (throttled, bounded, logged). */
  signIn: PasswordSignIn;
  /** Requests where Basic auth may carry an account password instead of a token. */
  passwordAllowed?: (req: { path: string }) => boolean;
  /** The client's address (FORGE_TRUST_PROXY decides whether a forwarded one counts). */
  clientAddress: (req: IncomingMessage) => string;
  /** Failed token checks are logged here at warn level, with the client's address. */
  logger: Logger;
}

/**
 * Attaches the request's actor. Credentials that were sent but are wrong are refused
 * here with 401, so a typo in a netrc never silently degrades to anonymous access.
 */
export function authenticate(options: AuthenticateOptions): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      const actor = await resolveActor(req, options);
      if (actor) setActor(req, actor);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * The request's actor from its Authorization header: null when it carries none, a 401
 * when it carries wrong credentials (a 429 when they are a password tried too often).
 * (The express middleware above and the host's fast lane for hot package reads both use it.)
 */
export async function resolveActor(req: IncomingMessage & { path: string; originalUrl?: string }, options: AuthenticateOptions): Promise<Actor | null> {
  const creds = parseAuthorization(req.headers.authorization);
  if (!creds) return null;
  const identity = await options.tokens.verify(creds.secret);
  if (identity) return { user: identity.user, via: 'token', scopes: identity.scopes, tokenId: identity.tokenId, tokenName: identity.tokenName };
  const address = options.clientAddress(req);
  if (creds.kind === 'basic' && creds.username && options.passwordAllowed?.(req)) {
    // The sign-in logs its own failure (and throttles).
    const user = await options.signIn.verify(creds.username, creds.secret, { address, via: 'basic' });
    if (user) return { user, via: 'password' };
  } else {
    options.logger.warn('authentication failed', { address, via: 'token', method: req.method, url: String(req.originalUrl ?? req.url ?? '').slice(0, 200) });
  }
  throw new UnauthorizedError('invalid credentials');
}
