import { describe, expect, it } from 'vitest';
import { parseCoordinates } from '../../src/names.js';

describe('generic package coordinates (Gitea rules)', () => {
  it('accepts what Gitea accepts', () => {
    expect(parseCoordinates({ name: 'my_tool+x', version: '1.0.0-rc.1', filename: 'tool (1).tar.gz' })).toEqual({
      name: 'my_tool+x',
      version: '1.0.0-rc.1',
      filename: 'tool (1).tar.gz',
    });
  });
  it.each([
    [{ name: 'a b', version: '1', filename: 'f' }, /package name/],
    [{ name: '..', version: '1', filename: 'f' }, /package name/],
    [{ name: 'a', version: ' 1', filename: 'f' }, /version/],
    [{ name: 'a', version: '', filename: 'f' }, /version/],
    [{ name: 'a', version: '1', filename: '..' }, /file name/],
    [{ name: 'a', version: '1', filename: 'a/b' }, /file name/],
    [{ name: 'a', version: '1', filename: '<x>' }, /file name/],
  ])('refuses %j', (params, message) => {
    expect(() => parseCoordinates(params)).toThrow(message);
  });
});
