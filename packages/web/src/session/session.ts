import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { CookieOptions, Request, Response } from 'express';
import jwt from 'jsonwebtoken';

/** What the signed session cookie carries. `uid` is absent for a visitor who has not signed in. */
export interface SessionClaims {
  /** Random session id: CSRF tokens are bound to it, and signing in replaces it. */
  sid: string;
  uid?: number;
}

export interface SessionOptions {
  /** HMAC key for the JWT (derived from the server secret, purpose `session`). */
  key: Buffer;
  /** Set the `Secure` flag (and the `__Host-` name prefix): the public base URL is https. */
  secure: boolean;
  /** Lifetime of a session; it is renewed when used after a day. */
  maxAgeMs?: number;
}

const DEFAULT_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** A session older than this is re-issued with a fresh expiry when it is used (sliding sessions). */
const RENEW_AFTER_MS = 24 * 60 * 60 * 1000;
const ISSUER = 'forge';
const AUDIENCE = 'forge-ui';
const FLASH_MAX_AGE_MS = 60 * 1000;

/**
 * Stateless sessions: a JWT (HS256, key derived from the server secret) in an HttpOnly,
 * SameSite=Lax cookie, so every server process behind a load balancer accepts it. CSRF
 * tokens are an HMAC of the session id, so they need no storage either.
 *
 * A signed-out cookie is deleted from the browser; a copy stolen before stays valid until
 * it expires (rotating FORGE_SECRET ends every session).
 */
export class SessionCodec {
  readonly cookieName: string;
  readonly flashCookieName: string;
  readonly #key: Buffer;
  readonly #csrfKey: Buffer;
  readonly #maxAgeMs: number;
  readonly #cookie: CookieOptions;

  constructor(options: SessionOptions) {
    this.#key = options.key;
    // A separate key per use, so a CSRF token can never be replayed as anything else.
    this.#csrfKey = createHmac('sha256', options.key).update('csrf').digest();
    this.#maxAgeMs = options.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    // `__Host-` cookies are only accepted over https, from the host itself, for path `/`.
    this.cookieName = options.secure ? '__Host-forge_session' : 'forge_session';
    this.flashCookieName = options.secure ? '__Host-forge_flash' : 'forge_flash';
    this.#cookie = { httpOnly: true, sameSite: 'lax', secure: options.secure, path: '/' };
  }

  /** The session of the request, or null when there is none or it is invalid or expired. */
  read(req: Request): (SessionClaims & { issuedAt: number }) | null {
    const raw = (req.cookies as Record<string, string> | undefined)?.[this.cookieName];
    if (!raw) return null;
    try {
      const payload = jwt.verify(raw, this.#key, { algorithms: ['HS256'], issuer: ISSUER, audience: AUDIENCE });
      if (typeof payload !== 'object' || typeof payload.sid !== 'string' || payload.sid.length < 16) return null;
      const uid = payload.uid;
      if (uid !== undefined && !(Number.isSafeInteger(uid) && uid > 0)) return null;
      return { sid: payload.sid, uid, issuedAt: (payload.iat ?? 0) * 1000 };
    } catch {
      return null;
    }
  }

  /** A new session (a new id: signing in never keeps an id someone else may have planted). */
  create(res: Response, uid?: number): SessionClaims {
    const claims: SessionClaims = { sid: randomBytes(18).toString('base64url'), ...(uid ? { uid } : {}) };
    this.write(res, claims);
    return claims;
  }

  write(res: Response, claims: SessionClaims): void {
    const token = jwt.sign({ sid: claims.sid, ...(claims.uid ? { uid: claims.uid } : {}) }, this.#key, {
      algorithm: 'HS256',
      expiresIn: Math.floor(this.#maxAgeMs / 1000),
      issuer: ISSUER,
      audience: AUDIENCE,
    });
    res.cookie(this.cookieName, token, { ...this.#cookie, maxAge: this.#maxAgeMs });
  }

  /** Whether a session should be re-issued to push its expiry out. */
  shouldRenew(issuedAt: number, now = Date.now()): boolean {
    return now - issuedAt > RENEW_AFTER_MS;
  }

  clear(res: Response): void {
    res.clearCookie(this.cookieName, this.#cookie);
  }

  csrfToken(sid: string): string {
    return createHmac('sha256', this.#csrfKey).update(sid).digest('base64url');
  }

  verifyCsrf(sid: string, token: unknown): boolean {
    if (typeof token !== 'string' || token.length === 0 || token.length > 128) return false;
    const expected = Buffer.from(this.csrfToken(sid));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /** A one-time notice for the next page (after a redirect); signed so nobody else can put words in it. */
  setFlash(res: Response, flash: Flash): void {
    const token = jwt.sign({ flash }, this.#key, { algorithm: 'HS256', expiresIn: FLASH_MAX_AGE_MS / 1000, audience: 'forge-flash' });
    res.cookie(this.flashCookieName, token, { ...this.#cookie, maxAge: FLASH_MAX_AGE_MS });
  }

  /** Reads and removes the notice, if any. */
  takeFlash(req: Request, res: Response): Flash | null {
    const raw = (req.cookies as Record<string, string> | undefined)?.[this.flashCookieName];
    if (!raw) return null;
    res.clearCookie(this.flashCookieName, this.#cookie);
    try {
      const payload = jwt.verify(raw, this.#key, { algorithms: ['HS256'], audience: 'forge-flash' });
      const flash = typeof payload === 'object' ? (payload.flash as Flash | undefined) : undefined;
      if (!flash || typeof flash.text !== 'string' || (flash.kind !== 'success' && flash.kind !== 'error')) return null;
      return flash;
    } catch {
      return null;
    }
  }
}

export interface Flash {
  kind: 'success' | 'error';
  text: string;
}
