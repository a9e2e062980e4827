import { describe, expect, it } from 'vitest';
import { ListingFormatError, parseListing, renderListing } from '../../../src/format/index.js';
import { CACHE_COMPRESSIONS, cacheFiles, fixture } from './fixtures.js';

describe('.ls listings', () => {
  const files = CACHE_COMPRESSIONS.flatMap((c) => cacheFiles(c, '.ls'));

  it.each(files)('%s parses and re-renders byte for byte', (file) => {
    const bytes = fixture(file);
    expect(Buffer.from(renderListing(parseListing(bytes)))).toEqual(bytes);
  });

  it('accepts the key order and explicit executable:false of Nix 2.2x+', () => {
    const modern = '{"root":{"entries":{"b":{"executable":false,"narOffset":232,"size":1,"type":"regular"},"a":{"target":"b","type":"symlink"}},"type":"directory"},"version":1}';
    const listing = parseListing(modern);
    expect(Buffer.from(renderListing(listing)).toString()).toBe(
      '{"version":1,"root":{"type":"directory","entries":{"a":{"type":"symlink","target":"b"},"b":{"type":"regular","size":1,"narOffset":232}}}}',
    );
  });

  it('keeps integer-like names in byte order', () => {
    const listing = parseListing('{"version":1,"root":{"type":"directory","entries":{"9":{"type":"regular","size":0},"10":{"type":"regular","size":0},"a":{"type":"regular","size":0}}}}');
    expect(listing.root.type === 'directory' && [...listing.root.entries.keys()]).toEqual(['10', '9', 'a']);
  });

  it('escapes strings exactly like Nix 2.8', () => {
    const name = 'q"b\\n\nr\rt\tc\u0001\b\f\u007fé';
    const out = Buffer.from(
      renderListing({ version: 1, root: { type: 'directory', entries: new Map([[name, { type: 'symlink', target: 'x' }]]) } }),
    ).toString('utf8');
    expect(out).toContain('"q\\"b\\\\n\\nr\\rt\\tc\\u0001\\u0008\\u000c\u007fé"');
  });

  it.each([
    ['not json', /listing is not valid JSON/],
    ['[]', /listing must be a JSON object/],
    ['{"version":2,"root":{}}', /"version" must be 1, got 2/],
    ['{"version":1}', /listing has no "root"/],
    ['{"version":1,"root":{"type":"fifo"}}', /"type" must be "regular", "symlink" or "directory"/],
    ['{"version":1,"root":{"type":"regular","size":-1}}', /"size" must be a non-negative integer/],
    ['{"version":1,"root":{"type":"regular","size":1.5}}', /"size" must be a non-negative integer/],
    ['{"version":1,"root":{"type":"regular","size":1,"executable":"yes"}}', /"executable" must be a boolean/],
    ['{"version":1,"root":{"type":"regular","size":1,"narOffset":"96"}}', /"narOffset" must be a non-negative integer/],
    ['{"version":1,"root":{"type":"symlink","target":""}}', /"target" must be a non-empty string/],
    ['{"version":1,"root":{"type":"directory"}}', /"entries" must be an object/],
    ['{"version":1,"root":{"type":"directory","entries":{"a/b":{"type":"regular","size":0}}}}', /invalid entry name "a\/b"/],
    ['{"version":1,"root":{"type":"directory","entries":{"..":{"type":"regular","size":0}}}}', /invalid entry name "\.\."/],
    ['{"version":1,"root":{"type":"directory","entries":{"x":{}}}}', /listing node "x": "type" must be/],
  ])('rejects %s', (text, message) => {
    expect(() => parseListing(text)).toThrow(ListingFormatError);
    expect(() => parseListing(text)).toThrow(message);
  });

  it('rejects nesting deeper than NARs allow', () => {
    let node = '{"type":"regular","size":0}';
    for (let i = 0; i < 64; i++) node = `{"type":"directory","entries":{"d":${node}}}`;
    expect(() => parseListing(`{"version":1,"root":${node}}`)).toThrow(/nests deeper than 64 levels/);
  });
});
