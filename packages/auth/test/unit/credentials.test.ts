import { describe, expect, it } from 'vitest';
import { hashPassword, parseAuthorization, parseScopes, validateOwnerName, verifyPassword } from '@forge/auth';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('parseAuthorization', () => {
  it('reads a token from Basic with a username, an empty username, or no colon', () => {
    expect(parseAuthorization(`Basic ${b64('alice:tok')}`)).toEqual({ kind: 'basic', username: 'alice', secret: 'tok' });
    expect(parseAuthorization(`Basic ${b64(':tok')}`)).toEqual({ kind: 'basic', username: '', secret: 'tok' });
    expect(parseAuthorization(`basic ${b64('alice:p:a:ss')}`)).toEqual({ kind: 'basic', username: 'alice', secret: 'p:a:ss' });
  });
  it('reads `token T` and `Bearer T`, case-insensitively', () => {
    expect(parseAuthorization('token abc')).toEqual({ kind: 'token', secret: 'abc' });
    expect(parseAuthorization('Bearer abc')).toEqual({ kind: 'token', secret: 'abc' });
    expect(parseAuthorization('BEARER  abc ')).toEqual({ kind: 'token', secret: 'abc' });
  });
  it('ignores what it does not know', () => {
    expect(parseAuthorization(undefined)).toBeNull();
    expect(parseAuthorization('Digest x=y')).toBeNull();
    expect(parseAuthorization('garbage')).toBeNull();
  });
});

describe('owner names', () => {
  it.each(['alice', 'Alice-Smith', 'a.b_c', 'x1', 'a'.repeat(40)])('accepts %s', (name) => {
    expect(validateOwnerName(name)).toBe(name);
  });
  it.each(['', '-alice', 'alice-', 'a..b', 'a b', 'a/b', 'ä', 'a'.repeat(41), 'api', 'Admin', '<script>'])('refuses %j', (name) => {
    expect(() => validateOwnerName(name)).toThrow();
  });
});

describe('scopes', () => {
  it('parses comma lists and arrays, deduplicated', () => {
    expect(parseScopes('read:package, write:package,read:package')).toEqual(['read:package', 'write:package']);
    expect(parseScopes(['all'])).toEqual(['all']);
  });
  it('refuses unknown and empty scope lists', () => {
    expect(() => parseScopes('read:package,sudo')).toThrow(/unknown scope "sudo"/);
    expect(() => parseScopes('')).toThrow(/at least one scope/);
  });
});

describe('passwords', () => {
  it('verifies the right password only, with a salted hash', async () => {
    const a = await hashPassword('correct horse');
    const b = await hashPassword('correct horse');
    expect(a).not.toBe(b);
    expect(a.startsWith('scrypt$')).toBe(true);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('wrong horse', a)).toBe(false);
    expect(await verifyPassword('anything', null)).toBe(false);
  });
});
