/** The tree generate.sh adds to the store, rebuilt in memory for the NAR writer tests. */
import { decodeNarString, type NarTree } from '../../../src/format/index.js';

export const ODD_NAME = decodeNarString(Buffer.from('odd \xff"\\\t\x01\xc3\xa9\nname', 'latin1'));

export const fixtureTree: NarTree = {
  type: 'directory',
  entries: {
    bin: {
      type: 'directory',
      entries: {
        hello: { type: 'regular', executable: true, contents: '#!/bin/sh\necho hello\n' },
        link: { type: 'symlink', target: '../share/doc/readme.txt' },
      },
    },
    share: {
      type: 'directory',
      entries: new Map<string, NarTree>([
        ['doc', { type: 'directory', entries: { 'readme.txt': { type: 'regular', contents: 'read me\n' } } }],
        ['big.txt', { type: 'regular', contents: 'x'.repeat(100000) }],
      ]),
    },
    empty: { type: 'regular', contents: '' },
    nested: { type: 'directory', entries: { a: { type: 'directory', entries: { b: { type: 'directory', entries: { c: { type: 'directory', entries: { 'deep.txt': { type: 'regular', contents: 'deep\n' } } } } } } } } },
    nums: {
      type: 'directory',
      entries: { 9: { type: 'regular', contents: '9\n' }, 10: { type: 'regular', contents: '10\n' }, a: { type: 'regular', contents: 'a\n' } },
    },
    Zeta: { type: 'regular', contents: 'Z\n' },
    [ODD_NAME]: { type: 'regular', contents: 'odd\n' },
  },
};
