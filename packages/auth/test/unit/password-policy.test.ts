import { describe, expect, it } from 'vitest';
import { passwordWeakness, validatePassword } from '@forge/auth';

describe('validatePassword', () => {
  it.each(['password', '12345678', 'qwertyuiop', 'iloveyou', 'PASSWORD', 'Password1', 'football', 'trustno1', 'sunshine1'])(
    'refuses the common password %j',
    (password) => {
      expect(() => validatePassword(password)).toThrow(/most common passwords|too easy to guess/);
    },
  );

  it.each(['aaaaaaaa', 'abcdefgh', '12341234', 'P@ssw0rd', 'qwer1234'])('refuses the trivially guessed %j', (password) => {
    expect(() => validatePassword(password)).toThrow(/too easy to guess|most common/);
  });

  it('refuses a password made of the user\'s own name', () => {
    expect(passwordWeakness('margarethe', { username: 'margarethe' })).toMatch(/user name or email/);
    expect(passwordWeakness('margarethe', {})).toBeNull();
  });

  it.each(['correct horse battery staple', 'a-long-passphrase', 'newbie-password', 'Tr0ub4dor&3', 'x8#kQ!v2mZ'])('accepts %j', (password) => {
    expect(validatePassword(password, { username: 'alice', email: 'alice@example.test' })).toBe(password);
  });

  it('keeps the length bounds and refuses NUL bytes', () => {
    expect(() => validatePassword('short')).toThrow(/at least 8/);
    expect(() => validatePassword('x'.repeat(1025))).toThrow(/at most 1024/);
    expect(() => validatePassword('long-enough\u0000pass')).toThrow(/NUL/);
  });
});
