import { describe, expect, it } from 'vitest';
import {
  NarFormatError,
  NarParser,
  SizeLimitError,
  encodeNarString,
  findListingNode,
  formatHash,
  parseNar,
  parseNarInfo,
  renderListing,
  type NarParseResult,
} from '../../../src/format/index.js';
import { chunked, fixture, fixtureText, hashPath, narFiles, paths, prng } from './fixtures.js';
import { MAGIC, entry, file, nar, str, u64 } from './nar-builder.js';
import { ODD_NAME } from './nar-tree.js';

const uncompressed = [...narFiles('none'), 'dumps/file.nar', 'dumps/exec.nar', 'dumps/symlink.nar', 'dumps/empty-dir.nar'];
const treeNarFile = `cache-none/nar/${hashPath.find((h) => h.path === paths.tree)!.nix32}.nar`;

/** Parses chunk by chunk, collecting the streamed listing (unless a parser is given). */
function parseChunks(chunks: Iterable<Uint8Array>, parser?: NarParser): NarParseResult & { listingBytes: Buffer } {
  const listing: Uint8Array[] = [];
  const p = parser ?? new NarParser({ onListing: (chunk) => listing.push(chunk) });
  for (const c of chunks) p.write(c);
  return { ...p.end(), listingBytes: Buffer.concat(listing) };
}

function summary(r: NarParseResult & { listingBytes: Uint8Array }): [string, number, string, number] {
  return [formatHash(r.narHash), r.narSize, Buffer.from(r.listingBytes).toString('latin1'), r.entryCount];
}

describe('NarParser on NARs written by Nix 2.8', () => {
  it.each(hashPath.map((h) => [h.path, h.nix32] as const))('%s: NarHash equals `nix hash path`', (_path, nix32) => {
    const r = parseNar(fixture(`cache-none/nar/${nix32}.nar`));
    expect(formatHash(r.narHash)).toBe(`sha256:${nix32}`);
  });

  it.each(['xz', 'zstd', 'none', 'gzip', 'br', 'bzip2'])('listing equals the .ls Nix wrote (cache-%s)', (compression) => {
    for (const hashPart of [paths.tree, paths.ref, paths.hello].map((p) => p.slice(11, 43))) {
      const info = parseNarInfo(fixtureText(`cache-${compression}/${hashPart}.narinfo`));
      const r = parseNar(fixture(`cache-none/nar/${formatHash(info.narHash).slice(7)}.nar`));
      expect(r.narSize).toBe(info.narSize);
      expect(Buffer.from(renderListing(r.listing))).toEqual(fixture(`cache-${compression}/${hashPart}.ls`));
    }
  });

  it('exposes names byte-exactly, in byte order (not JS object order)', () => {
    const { listing } = parseNar(fixture(treeNarFile));
    if (listing.root.type !== 'directory') throw new Error('expected a directory');
    expect([...listing.root.entries.keys()]).toEqual(['Zeta', 'bin', 'empty', 'nested', 'nums', ODD_NAME, 'share']);
    expect(Buffer.from(encodeNarString(ODD_NAME)).toString('latin1')).toBe('odd \xff"\\\t\x01\xc3\xa9\nname');
    const nums = findListingNode(listing.root, 'nums');
    expect(nums?.type === 'directory' && [...nums.entries.keys()]).toEqual(['10', '9', 'a']);
    expect(findListingNode(listing.root, 'bin/hello')).toEqual({ type: 'regular', size: 21, executable: true, narOffset: 592 });
    expect(findListingNode(listing.root, 'bin/link')).toEqual({ type: 'symlink', target: '../share/doc/readme.txt' });
    expect(findListingNode(listing.root, 'bin/link/x')).toBeUndefined();
    expect(findListingNode(listing.root, 'nested/a/b/c/deep.txt')?.type).toBe('regular');
  });

  it('gives a single-file NAR narOffset 96', () => {
    expect(parseNar(fixture('dumps/file.nar')).listing.root).toEqual({ type: 'regular', size: 6, executable: false, narOffset: 96 });
  });
});

describe('NarParser streaming', () => {
  it.each(uncompressed)('%s: one byte at a time and random chunks give the same result', (name) => {
    const bytes = fixture(name);
    const whole = summary(parseNar(bytes));
    expect(summary(parseChunks(chunked(bytes, () => 1)))).toEqual(whole);
    for (let seed = 1; seed <= 5; seed++) {
      const rand = prng(seed);
      expect(summary(parseChunks(chunked(bytes, () => Math.floor(rand() * 300))))).toEqual(whole);
    }
  });

  it('hands out file contents with offsets, in order, without buffering', () => {
    const bytes = fixture(treeNarFile);
    const files = new Map<string, Buffer[]>();
    const calls: Array<[string, number, number, number]> = [];
    const parser = new NarParser({
      onFileContents: (path, offset, chunk, size) => {
        calls.push([path, offset, chunk.length, size]);
        files.set(path, [...(files.get(path) ?? []), Buffer.from(chunk)]);
      },
    });
    const rand = prng(42);
    parseChunks(chunked(bytes, () => Math.floor(rand() * 5000)), parser);
    const text = (p: string): string => Buffer.concat(files.get(p) ?? []).toString('latin1');
    expect(text('bin/hello')).toBe('#!/bin/sh\necho hello\n');
    expect(text('share/big.txt')).toBe('x'.repeat(100000));
    expect(text(ODD_NAME)).toBe('odd\n');
    expect(calls.filter(([p]) => p === 'empty')).toEqual([['empty', 0, 0, 0]]);
    expect(calls.filter(([p]) => p === 'share/big.txt').length).toBeGreaterThan(5);
    // Offsets are contiguous per file.
    let expected = 0;
    for (const [p, offset, length] of calls.filter(([p]) => p === 'share/big.txt')) {
      expect([p, offset]).toEqual(['share/big.txt', expected]);
      expected += length;
    }
  });

  it('can stop early once it has what it wants', () => {
    const bytes = fixture(treeNarFile);
    let got = '';
    const parser: NarParser = new NarParser({
      onFileContents: (path, offset, chunk, size) => {
        if (path !== 'bin/hello') return;
        got += Buffer.from(chunk).toString();
        if (offset + chunk.length === size) parser.stop();
      },
    });
    for (const c of chunked(bytes, () => 7)) parser.write(c);
    expect(got).toBe('#!/bin/sh\necho hello\n');
    expect(parser.isStopped).toBe(true);
    expect(parser.bytesConsumed).toBeLessThan(bytes.length);
    expect(() => parser.end()).toThrow(/after stop/);
  });

  it('rejects a NAR over maxSize, early for a file that cannot fit', () => {
    const bytes = fixture(treeNarFile);
    expect(() => parseNar(bytes, { maxSize: bytes.length - 1 })).toThrow(SizeLimitError);
    expect(() => parseChunks(chunked(bytes, () => 4096), new NarParser({ maxSize: 50_000 }))).toThrow(/file of 100000 bytes/);
    expect(parseNar(bytes, { maxSize: bytes.length }).narSize).toBe(bytes.length);
  });

  it('reports truncation at every possible cut, never anything else', () => {
    for (const name of ['dumps/symlink.nar', `cache-none/nar/${hashPath.find((h) => h.path === paths.ref)!.nix32}.nar`]) {
      const bytes = fixture(name);
      for (let cut = 0; cut < bytes.length; cut++) {
        const parser = new NarParser();
        parser.write(bytes.subarray(0, cut));
        let error: unknown;
        try {
          parser.end();
        } catch (err) {
          error = err;
        }
        expect(error).toBeInstanceOf(NarFormatError);
        expect((error as NarFormatError).message).toMatch(/NAR is truncated: input ended while expecting/);
        expect((error as NarFormatError).offset).toBe(cut);
      }
    }
  });

  it('keeps failing with the same error', () => {
    const parser = new NarParser();
    expect(() => parser.write(nar('nix-archive-2'))).toThrow(/bad magic/);
    expect(() => parser.write(new Uint8Array(8))).toThrow(/bad magic/);
    expect(() => parser.end()).toThrow(/bad magic/);
  });
});

type Token = string | Uint8Array;
const REG = ['(', 'type', 'regular'];
const DIR = [MAGIC, '(', 'type', 'directory'];
const nest = (depth: number): Token[] => {
  // A chain of directories `d/d/…` ending in an empty file at `depth`.
  let tokens: Token[] = file('');
  for (let i = 0; i < depth; i++) tokens = ['(', 'type', 'directory', ...entry('d', tokens), ')'];
  return tokens;
};

/** [description, tokens before the offending one, the rest, expected message]. The error offset is where `rest` starts, unless given. */
const corpus: Array<[string, Token[], Token[], RegExp, number?]> = [
  ['another archive version', [], ['nix-archive-2', ...file('x')], /not a Nix archive \(bad magic\)/],
  ['a magic longer than 13 bytes', [], ['nix-archive-1x'], /not a Nix archive \(bad magic\)/],
  ['random garbage', [], [Buffer.from('hello, world! this is not a NAR')], /not a Nix archive \(bad magic\)/],
  ['a non-zero padding byte in a tag', [MAGIC], [str('(', 1)], /padding byte is not zero/, 24 + 8 + 1],
  ['a non-zero padding byte after contents', [MAGIC, ...REG, 'contents', u64(3), Buffer.from('abc')], [Buffer.from([0, 0, 0, 0, 9])], /padding byte is not zero/, 24 + 48 + 16 + 8 + 3 + 4],
  ['a node not starting with "("', [MAGIC], ['type', 'regular'], /expected '\(', got "type"/],
  ['a missing type tag (accepted by 2.8)', [MAGIC, '('], ['regular', 'contents', ''], /expected 'type', got "regular"/],
  ['an unknown node type', [MAGIC, '(', 'type'], ['fifo', ')'], /unknown node type "fifo" \(expected 'regular', 'symlink' or 'directory'\)/],
  ['an unknown tag in a file', [MAGIC, ...REG], ['size', u64(1)], /expected 'executable' or 'contents', got "size"/],
  ['executable after contents (accepted by 2.8)', [MAGIC, ...REG, 'contents', 'x'], ['executable', '', ')'], /expected '\)', got "executable"/],
  ['executable with a value', [MAGIC, ...REG, 'executable'], ['yes', 'contents', ''], /executable marker has a non-empty value/],
  ['a file without contents', [MAGIC, ...REG], [')'], /expected 'executable' or 'contents', got "\)"/],
  ['an executable file without contents', [MAGIC, ...REG, 'executable', ''], [')'], /expected 'contents', got "\)"/],
  ['repeated contents (accepted by 2.8)', [MAGIC, ...REG, 'contents', 'x'], ['contents', 'y', ')'], /expected '\)', got "contents"/],
  ['an impossibly large file', [MAGIC, ...REG, 'contents'], [u64(2n ** 60n)], /file size .* is impossibly large/],
  ['a symlink without target (accepted by 2.8)', [MAGIC, '(', 'type', 'symlink'], [')'], /expected 'target', got "\)"/],
  ['an empty symlink target', [MAGIC, '(', 'type', 'symlink', 'target'], ['', ')'], /symlink target is empty/],
  ['a NUL in a symlink target', [MAGIC, '(', 'type', 'symlink', 'target'], ['a\0b', ')'], /symlink target contains a NUL byte/],
  ['a 4096-byte symlink target', [MAGIC, '(', 'type', 'symlink', 'target'], ['t'.repeat(4096), ')'], /symlink target is 4096 bytes long, more than the limit of 4095/],
  ['an unknown tag in a directory', DIR, ['foo'], /expected 'entry' or '\)', got "foo"/],
  ['an entry not opening with "("', [...DIR, 'entry'], ['name', 'a'], /expected '\(', got "name"/],
  ['an entry without name', [...DIR, 'entry', '('], ['node', ...file('')], /expected 'name', got "node"/],
  ['an entry without node', [...DIR, 'entry', '(', 'name', 'a'], [')'], /expected 'node', got "\)"/],
  ['an entry not closed', [...DIR, 'entry', '(', 'name', 'a', 'node', ...file('')], ['entry'], /expected '\)', got "entry"/],
  ['an empty name', [...DIR, 'entry', '(', 'name'], [''], /entry name is empty/],
  ['the name "."', [...DIR, 'entry', '(', 'name'], ['.'], /entry name "\." is not allowed/],
  ['the name ".."', [...DIR, 'entry', '(', 'name'], ['..'], /entry name "\.\." is not allowed/],
  ['a name with "/"', [...DIR, 'entry', '(', 'name'], ['a/b'], /entry name "a\/b" contains '\/'/],
  ['a name with NUL', [...DIR, 'entry', '(', 'name'], ['a\0b'], /entry name "a\\u0000b" contains a NUL byte/],
  ['a 256-byte name', [...DIR, 'entry', '(', 'name'], ['n'.repeat(256)], /entry name is 256 bytes long, more than the limit of 255/],
  ['unsorted entries', [...DIR, ...entry('b', file('')), 'entry', '(', 'name'], ['a', 'node'], /directory entries are not sorted: "a" comes after "b"/],
  ['unsorted by bytes ("B" < "a")', [...DIR, ...entry('a', file('')), 'entry', '(', 'name'], ['B', 'node'], /not sorted: "B" comes after "a"/],
  ['a duplicate entry', [...DIR, ...entry('a', file('')), 'entry', '(', 'name'], ['a', 'node'], /duplicate entry name "a"/],
  ['a tag longer than 32 bytes', [MAGIC], ['('.repeat(33)], /expected '\(', got a 33-byte string \(tags are at most 32 bytes\)/],
  ['an absurd string length', [MAGIC], [u64(2 ** 40)], /got a 1099511627776-byte string/],
  ['bytes after the root node', [MAGIC, ...file('x')], [u64(0)], /unexpected data after the end of the NAR/],
];

describe('NarParser rejects non-canonical NARs', () => {
  it.each(corpus)('%s', (_name, prefix, rest, message, offset) => {
    const before = nar(...prefix);
    const bytes = nar(...prefix, ...rest);
    for (const chunks of [[bytes], [...chunked(bytes, () => 1)]]) {
      let error: unknown;
      try {
        parseChunks(chunks);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(NarFormatError);
      expect((error as NarFormatError).message).toMatch(message);
      expect((error as NarFormatError).offset).toBe(offset ?? before.length);
    }
  });

  it('accepts the limits themselves', () => {
    expect(() => parseNar(nar(MAGIC, '(', 'type', 'symlink', 'target', 't'.repeat(4095), ')'))).not.toThrow();
    expect(() => parseNar(nar(...DIR, ...entry('n'.repeat(255), file('')), ')'))).not.toThrow();
    expect(() => parseNar(nar(MAGIC, ...nest(63)))).not.toThrow();
  });

  it('rejects nesting of 64 directories', () => {
    const bytes = nar(MAGIC, ...nest(64));
    expect(() => parseNar(bytes)).toThrow(/directory nesting exceeds the maximum depth of 64/);
    try {
      parseNar(bytes);
    } catch (err) {
      expect((err as NarFormatError).path).toBe(Array(64).fill('d').join('/'));
    }
  });

  it('names the path and offset in the message', () => {
    const bytes = nar(...DIR, ...entry('bin', ['(', 'type', 'directory', 'entry', '(', 'name', 'x/y']));
    expect(() => parseNar(bytes)).toThrow(/^invalid NAR at byte \d+ \(in "bin"\): entry name "x\/y" contains '\/'$/);
  });
});
