import { describe, expect, it } from 'vitest';
import { NarFormatError, narChunks, writeNar, type NarTree } from '../../../src/format/index.js';
import { fixture, paths } from './fixtures.js';
import { fixtureTree } from './nar-tree.js';
import { hashPath } from './fixtures.js';

const treeNar = (): Buffer => fixture(`cache-none/nar/${hashPath.find((h) => h.path === paths.tree)!.nix32}.nar`);

describe('writeNar reproduces nix-store --dump', () => {
  it('for the protocol reference vector (a file containing "hello\\n")', () => {
    expect(Buffer.from(writeNar({ type: 'regular', contents: 'hello\n' })).toString('hex')).toBe(
      '0d000000000000006e69782d617263686976652d3100000001000000000000002800000000000000040000000000000074797065000000000700000000000000726567756c6172000800000000000000636f6e74656e7473060000000000000068656c6c6f0a000001000000000000002900000000000000',
    );
  });

  it.each<[string, NarTree]>([
    ['file.nar', { type: 'regular', contents: 'hello\n' }],
    ['exec.nar', { type: 'regular', contents: '#!/bin/sh\n', executable: true }],
    ['symlink.nar', { type: 'symlink', target: 'target with spaces' }],
    ['empty-dir.nar', { type: 'directory', entries: {} }],
  ])('for dumps/%s', (file, tree) => {
    expect(Buffer.from(writeNar(tree))).toEqual(fixture(`dumps/${file}`));
  });

  it('for the fixture tree (sorting, odd bytes in names, a 100 kB file)', () => {
    expect(Buffer.from(writeNar(fixtureTree))).toEqual(treeNar());
  });

  it('streams big contents without copying them', () => {
    const block = Buffer.alloc(1 << 20, 1);
    const chunks = [...narChunks({ type: 'regular', contents: [block, block, block] })];
    expect(chunks.filter((c) => c === block)).toHaveLength(3);
    expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(112 + 3 * (1 << 20));
  });
});

describe('writeNar refuses trees no canonical NAR can hold', () => {
  it.each<[string, NarTree, RegExp]>([
    ['an empty name', { type: 'directory', entries: { '': { type: 'regular', contents: '' } } }, /invalid entry name ""/],
    ['a dot name', { type: 'directory', entries: { '.': { type: 'regular', contents: '' } } }, /invalid entry name "."/],
    ['a slash', { type: 'directory', entries: { 'a/b': { type: 'regular', contents: '' } } }, /invalid entry name "a\/b"/],
    ['a NUL', { type: 'directory', entries: { 'a\0b': { type: 'regular', contents: '' } } }, /invalid entry name/],
    ['a 256-byte name', { type: 'directory', entries: { ['n'.repeat(256)]: { type: 'regular', contents: '' } } }, /invalid entry name/],
    ['an empty symlink', { type: 'symlink', target: '' }, /symlink target must be 1 to 4095 bytes/],
    ['names equal once encoded', { type: 'directory', entries: { é: { type: 'regular', contents: '' }, '\udcc3\udca9': { type: 'regular', contents: '' } } }, /both named/],
  ])('%s', (_name, tree, message) => {
    expect(() => writeNar(tree)).toThrow(NarFormatError);
    expect(() => writeNar(tree)).toThrow(message);
  });

  it('nesting of 64 levels', () => {
    let tree: NarTree = { type: 'regular', contents: '' };
    for (let i = 0; i < 63; i++) tree = { type: 'directory', entries: { d: tree } };
    expect(() => writeNar(tree)).not.toThrow();
    expect(() => writeNar({ type: 'directory', entries: { d: tree } })).toThrow(/maximum depth of 64/);
  });
});
