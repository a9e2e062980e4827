import { describe, expect, it } from 'vitest';
import { ListingFormatError, ListingReader, parseListing, renderListing, type ListingLookup, type NarListingNode } from '../../../src/format/index.js';
import { CACHE_COMPRESSIONS, cacheFiles, fixture } from './fixtures.js';

/** Feeds `bytes` to a reader in chunks of `size`. */
function read(bytes: Uint8Array, path: string, window = { offset: 0, limit: 1000 }, size = bytes.length): ListingLookup {
  const reader = new ListingReader(path, window);
  for (let at = 0; at < bytes.length; at += size) if (reader.write(bytes.subarray(at, at + size))) return reader.result();
  return reader.end();
}

/** What the reader should say about a node, from the parsed tree. */
function expected(node: NarListingNode, name: string): { type: string; files: number; bytes: number } {
  if (node.type === 'regular') return { type: 'regular', files: 1, bytes: node.size };
  if (node.type === 'symlink') return { type: 'symlink', files: 0, bytes: 0 };
  let files = 0;
  let bytes = 0;
  for (const [n, child] of node.entries) {
    const sub = expected(child, n);
    files += sub.files;
    bytes += sub.bytes;
  }
  void name;
  return { type: 'directory', files, bytes };
}

function* walk(node: NarListingNode, path: string): Generator<[string, NarListingNode]> {
  yield [path, node];
  if (node.type === 'directory') for (const [name, child] of node.entries) yield* walk(child, path === '' ? name : `${path}/${name}`);
}

const tree = (entries: Record<string, NarListingNode>): NarListingNode => ({ type: 'directory', entries: new Map(Object.entries(entries).sort(([a], [b]) => (a < b ? -1 : 1))) });
const sample = renderListing({
  version: 1,
  root: tree({
    bin: tree({ tool: { type: 'regular', size: 10, executable: true, narOffset: 400 } }),
    'e"sc\\ape\n\u0001': { type: 'symlink', target: 'bin/tool' },
    lib: tree({ a: tree({ b: tree({ 'x.so': { type: 'regular', size: 7, executable: false, narOffset: 900 } }) }), 'y.so': { type: 'regular', size: 5, executable: false, narOffset: 1200 } }),
    share: tree({}),
    zz: { type: 'regular', size: 3, executable: false, narOffset: 2000 },
  }),
});

describe('ListingReader (one node of a listing, streamed)', () => {
  const files = CACHE_COMPRESSIONS.flatMap((c) => cacheFiles(c, '.ls')).map((f) => [f, fixture(f)] as const);
  const cases: Array<[string, Uint8Array]> = [['sample', sample], ...files];

  it.each(cases)('%s: every node, in chunks of 1, 13 and all bytes, agrees with parseListing', (_name, bytes) => {
    const listing = parseListing(bytes);
    for (const [path, node] of walk(listing.root, '')) {
      for (const size of [1, 13, bytes.length]) {
        const found = read(bytes, path, { offset: 0, limit: 1000 }, size);
        expect(found.found, path).toBe(true);
        if (!found.found) continue;
        expect(found.node).toMatchObject(expected(node, path));
        if (node.type === 'regular') expect(found.node).toMatchObject({ size: node.size, executable: node.executable, narOffset: node.narOffset });
        if (node.type === 'symlink') expect(found.node.target).toBe(node.target);
        if (node.type === 'directory') {
          expect(found.entryCount).toBe(node.entries.size);
          expect(found.entries.map((e) => e.name)).toEqual([...node.entries.keys()]);
          for (const e of found.entries) expect(e).toMatchObject(expected(node.entries.get(e.name)!, e.name));
        }
      }
    }
  });

  it('answers a window of a directory and counts all of it', () => {
    const found = read(sample, '', { offset: 1, limit: 2 });
    expect(found.found && found.entries.map((e) => e.name)).toEqual(['e"sc\\ape\n\u0001', 'lib']);
    expect(found.found && found.entryCount).toBe(5);
    expect(found.found && found.node).toMatchObject({ type: 'directory', files: 4, bytes: 25 });
    expect(read(sample, '', { offset: 5, limit: 10 })).toMatchObject({ found: true, entries: [], entryCount: 5 });
  });

  it('finds nothing at paths that are not there, and stops reading early', () => {
    for (const path of ['nope', 'bin/nope', 'bin/tool/deeper', 'lib/a/c', 'zz/x']) expect(read(sample, path).found, path).toBe(false);
    const reader = new ListingReader('bin');
    const end = Buffer.from(sample).indexOf('"e\\"sc');
    expect(reader.write(sample.subarray(0, end))).toBe(true);
  });

  it('accepts other key orders and whitespace', () => {
    const modern = Buffer.from(
      '{ "root" : {"entries":{"a":{"target":"b","type":"symlink"},"b":{"executable":false,"narOffset":232,"size":1,"type":"regular"}, "x": {"extra":[1,{"y":"}"}],"type":"directory","entries":{}}},"type":"directory"},"version":1}',
    );
    const found = read(modern, '');
    expect(found.found && found.entries.map((e) => [e.name, e.type])).toEqual([
      ['a', 'symlink'],
      ['b', 'regular'],
      ['x', 'directory'],
    ]);
    expect(read(modern, 'b')).toMatchObject({ found: true, node: { size: 1, narOffset: 232 } });
  });

  it('refuses what is not a listing with a ListingFormatError', () => {
    for (const bad of ['', '{', '{"version":1,"root":{"type":"directory","entries":{"a":{"type":"regular"}}}}', '{"version":1,"root":{"type":"fifo"}}', '[1,2', '{"a" 1}', 'nul']) {
      expect(() => read(Buffer.from(bad), 'a'), bad).toThrow(ListingFormatError);
    }
    const deep = '{"version":1,"root":' + '{"type":"directory","entries":{"d":'.repeat(200) + '{"type":"regular","size":0}' + '}}'.repeat(200) + '}';
    expect(() => read(Buffer.from(deep), Array(200).fill('d').join('/'))).toThrow(ListingFormatError);
  });

  it('checks a whole document when asked to: version, root, nothing after it (key order free)', () => {
    const whole = (text: string) => {
      const reader = new ListingReader('', { offset: 0, limit: 0 }, { wholeDocument: true });
      reader.write(Buffer.from(text));
      return reader.end();
    };
    expect(whole('{"root":{"type":"regular","size":1},"version":1}')).toMatchObject({ found: true });
    expect(whole(Buffer.from(sample).toString('latin1') + ' \n')).toMatchObject({ found: true });
    for (const bad of ['{"version":2}', '{"version":1}', '{"root":{"type":"regular","size":1},"version":2}', '{"version":1,"root":{"type":"regular","size":1}} x', '{"version":1,"root":{"type":"regular","size":1}}{}']) {
      expect(() => whole(bad), bad).toThrow(ListingFormatError);
    }
  });

  it('holds only the window, whatever the directory holds', () => {
    // A directory of 200 000 entries, read in 64 KiB chunks: the answer holds 10.
    const parts = ['{"version":1,"root":{"type":"directory","entries":{'];
    for (let i = 0; i < 200_000; i++) parts.push(`${i ? ',' : ''}"f${String(i).padStart(7, '0')}":{"type":"regular","size":1,"narOffset":${100 + i * 200}}`);
    parts.push('}}}');
    const bytes = Buffer.from(parts.join(''));
    const found = read(bytes, '', { offset: 150_000, limit: 10 }, 64 * 1024);
    expect(found.found && found.entries.map((e) => e.name)).toEqual(Array.from({ length: 10 }, (_, k) => `f${String(150_000 + k).padStart(7, '0')}`));
    expect(found.found && found.node).toMatchObject({ files: 200_000, bytes: 200_000 });
    expect(found.found && found.entryCount).toBe(200_000);
  });
});
