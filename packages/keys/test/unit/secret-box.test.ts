import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { deriveSecret, SecretBox } from '@forge/keys';

describe('SecretBox', () => {
  const secret = randomBytes(32);

  it('round-trips and never seals the same text twice the same way', () => {
    const box = new SecretBox(secret, 'owner-keys');
    const a = box.seal('name:c2VjcmV0');
    expect(a).not.toContain('c2VjcmV0');
    expect(a).not.toBe(box.seal('name:c2VjcmV0'));
    expect(box.open(a)).toBe('name:c2VjcmV0');
  });

  it('refuses tampered values, other purposes and other secrets', () => {
    const box = new SecretBox(secret, 'owner-keys');
    const sealed = box.seal('hello');
    const parts = sealed.split('.');
    parts[3] = Buffer.from('jello').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
    expect(() => new SecretBox(secret, 'sessions').open(sealed)).toThrow();
    expect(() => new SecretBox(randomBytes(32), 'owner-keys').open(sealed)).toThrow();
    expect(() => box.open('v2.a.b.c')).toThrow(/unknown format/);
  });

  it('refuses short server secrets', () => {
    expect(() => new SecretBox(randomBytes(16), 'x')).toThrow(/at least 32 bytes/);
  });

  it('derives distinct keys per purpose', () => {
    expect(deriveSecret(secret, 'session').equals(deriveSecret(secret, 'session'))).toBe(true);
    expect(deriveSecret(secret, 'session').equals(deriveSecret(secret, 'owner-keys'))).toBe(false);
  });
});
