import { describe, expect, it } from 'vitest';
import { checkName } from '@forge/registry';

describe('registry names', () => {
  it('accepts ordinary names, including slashes for module file names', () => {
    expect(checkName('file name', 'nar/1abc.nar.xz')).toBe('nar/1abc.nar.xz');
  });
  it.each(['', '.', '..', 'a\u0000b', 'tab\there', 'x'.repeat(256)])('refuses %j', (name) => {
    expect(() => checkName('file name', name)).toThrow(expect.objectContaining({ status: 400 }));
  });
});
