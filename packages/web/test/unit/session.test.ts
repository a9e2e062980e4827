import type { Request, Response } from 'express';
import jwt from 'jsonwebtoken';
import { describe, expect, it } from 'vitest';
import { SessionCodec } from '../../src/session/session.js';
import { formatBytes, safeRedirect, timeAgo } from '../../src/shell/format.js';

const key = Buffer.alloc(32, 7);

/** Captures what the codec sets on a response. */
function fakeResponse() {
  const cookies: Array<{ name: string; value: string; options: Record<string, unknown> }> = [];
  const res = {
    cookie(name: string, value: string, options: Record<string, unknown>) {
      cookies.push({ name, value, options });
      return res;
    },
    clearCookie(name: string, options: Record<string, unknown>) {
      cookies.push({ name, value: '', options });
      return res;
    },
  };
  return { res: res as unknown as Response, cookies };
}
const request = (cookies: Record<string, string>) => ({ cookies }) as unknown as Request;

describe('SessionCodec', () => {
  it('issues HttpOnly, SameSite=Lax cookies that are Secure with a __Host- name behind https', () => {
    const plain = fakeResponse();
    new SessionCodec({ key, secure: false }).create(plain.res, 5);
    expect(plain.cookies[0]).toMatchObject({ name: 'forge_session', options: { httpOnly: true, sameSite: 'lax', secure: false, path: '/', maxAge: 7 * 86_400_000 } });
    const tls = fakeResponse();
    new SessionCodec({ key, secure: true }).create(tls.res, 5);
    expect(tls.cookies[0]).toMatchObject({ name: '__Host-forge_session', options: { secure: true } });
  });

  it('reads back its own sessions and nothing else', () => {
    const codec = new SessionCodec({ key, secure: false });
    const { res, cookies } = fakeResponse();
    const claims = codec.create(res, 42);
    expect(codec.read(request({ forge_session: cookies[0].value }))).toMatchObject({ sid: claims.sid, uid: 42 });
    expect(new SessionCodec({ key: Buffer.alloc(32, 8), secure: false }).read(request({ forge_session: cookies[0].value }))).toBeNull();
    const unsigned = jwt.sign({ sid: claims.sid, uid: 1 }, '', { algorithm: 'none' as never, issuer: 'forge', audience: 'forge-ui' });
    expect(codec.read(request({ forge_session: unsigned }))).toBeNull();
    const expired = jwt.sign({ sid: claims.sid, uid: 1 }, key, { algorithm: 'HS256', issuer: 'forge', audience: 'forge-ui', expiresIn: -10 });
    expect(codec.read(request({ forge_session: expired }))).toBeNull();
    const flashAsSession = jwt.sign({ sid: claims.sid, uid: 1 }, key, { algorithm: 'HS256', audience: 'forge-flash' });
    expect(codec.read(request({ forge_session: flashAsSession }))).toBeNull();
  });

  it('binds CSRF tokens to the session id', () => {
    const codec = new SessionCodec({ key, secure: false });
    const token = codec.csrfToken('session-one-123456');
    expect(codec.verifyCsrf('session-one-123456', token)).toBe(true);
    expect(codec.verifyCsrf('session-two-123456', token)).toBe(false);
    expect(codec.verifyCsrf('session-one-123456', undefined)).toBe(false);
    expect(codec.verifyCsrf('session-one-123456', token.slice(1))).toBe(false);
    expect(codec.verifyCsrf('session-one-123456', ['x'])).toBe(false);
  });

  it('renews sessions older than a day', () => {
    const codec = new SessionCodec({ key, secure: false });
    expect(codec.shouldRenew(Date.now() - 60_000)).toBe(false);
    expect(codec.shouldRenew(Date.now() - 2 * 86_400_000)).toBe(true);
  });
});

describe('page formatting', () => {
  it('prints sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(5 * 1024 ** 3)).toBe('5.0 GiB');
  });

  it('prints relative times', () => {
    const now = Date.UTC(2024, 0, 10);
    expect(timeAgo(new Date(now - 3 * 86_400_000), now)).toBe('3 days ago');
    expect(timeAgo(new Date(now - 1000), now)).toBe('just now');
  });

  it('only redirects to pages of this site', () => {
    expect(safeRedirect('/alice/-/packages?q=x')).toBe('/alice/-/packages?q=x');
    for (const evil of ['//evil.example', '/\\evil.example', 'https://evil.example', 'javascript:alert(1)', '/\nx', undefined, ['/a']]) {
      expect(safeRedirect(evil)).toBe('/');
    }
  });
});
