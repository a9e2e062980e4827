import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import {
  NARINFO_MAX_REFERENCES,
  NARINFO_MAX_SIGNATURES,
  NarInfoFormatError,
  encodeNix32,
  formatHash,
  parseNarInfo,
  serializeNarInfo,
  type NarInfo,
} from '../../../src/format/index.js';
import { CACHE_COMPRESSIONS, cacheFiles, fixture, fixtureText, paths } from './fixtures.js';

const refHash = paths.ref.slice('/nix/store/'.length, '/nix/store/'.length + 32);
const treeBase = paths.tree.slice('/nix/store/'.length);
const original = fixtureText(`cache-xz/${refHash}.narinfo`);

describe('narinfo written by Nix 2.8', () => {
  const all = CACHE_COMPRESSIONS.flatMap((c) => cacheFiles(c, '.narinfo'));

  it('has fixtures for every compression', () => {
    expect(all.length).toBeGreaterThanOrEqual(CACHE_COMPRESSIONS.length * 3);
  });

  it.each(all)('round-trips %s byte for byte', (file) => {
    const text = fixtureText(file);
    const info = parseNarInfo(text);
    expect(serializeNarInfo(info)).toBe(text);
    // Also from bytes, as an upload arrives.
    expect(serializeNarInfo(parseNarInfo(fixture(file)))).toBe(text);
  });

  it('parses every field into typed values', () => {
    const info = parseNarInfo(fixtureText(`cache-none/${refHash}.narinfo`));
    expect(info.storePath.baseName).toBe(paths.ref.slice('/nix/store/'.length));
    expect(info.compression).toBe('none');
    expect(info.url).toMatch(/^nar\/[0-9a-z]{52}\.nar$/);
    expect(formatHash(info.fileHash!)).toBe(formatHash(info.narHash));
    expect(info.fileSize).toBe(info.narSize);
    expect(info.references.map((r) => r.baseName)).toEqual([treeBase, paths.ref.slice('/nix/store/'.length)]);
    expect(info.deriver?.baseName).toBe(paths.drv.slice('/nix/store/'.length));
    expect(info.sigs.map((s) => s.split(':')[0])).toEqual(['test-1', 'test-2']);
    expect(info.ca).toBeUndefined();
    const tree = parseNarInfo(fixtureText(`cache-none/${treeBase.slice(0, 32)}.narinfo`));
    expect(tree.references).toEqual([]);
    expect(tree.ca?.method).toBe('nar');
    const hello = parseNarInfo(fixtureText(`cache-none/${paths.hello.slice(11, 43)}.narinfo`));
    expect(hello.ca?.method).toBe('text');
  });
});

describe('narinfo parsing rules', () => {
  it('accepts NarHash in base16, base64 and SRI, and writes Nix32', () => {
    const info = parseNarInfo(original);
    const nix32 = formatHash(info.narHash);
    for (const form of [formatHash(info.narHash, 'base16'), formatHash(info.narHash, 'base64'), formatHash(info.narHash, 'sri')]) {
      const reparsed = parseNarInfo(original.replace(nix32, form));
      expect(serializeNarInfo(reparsed)).toBe(original);
    }
  });

  it('reads a missing Compression line as bzip2, like Nix', () => {
    expect(parseNarInfo(original.replace('Compression: xz\n', '')).compression).toBe('bzip2');
  });

  it('treats a missing References line as no references, and writes the empty form', () => {
    const info = parseNarInfo(original.replace(/^References: .*\n/m, ''));
    expect(info.references).toEqual([]);
    expect(serializeNarInfo(info)).toContain('\nReferences: \n');
  });

  it('ignores unknown keys and accepts any field order', () => {
    const lines = original.trimEnd().split('\n');
    const shuffled = `${[...lines].reverse().join('\n')}\nFooBar: baz\n`;
    expect(serializeNarInfo(parseNarInfo(shuffled))).toBe(original);
  });

  it('treats Deriver unknown-deriver and an empty CA as absent', () => {
    const info = parseNarInfo(original.replace(/^Deriver: .*$/m, 'Deriver: unknown-deriver') + 'CA: \n');
    expect(info.deriver).toBeUndefined();
    expect(info.ca).toBeUndefined();
  });

  it('deduplicates repeated Sig lines and writes them sorted', () => {
    const sig = /^Sig: .*$/m.exec(original)![0];
    const info = parseNarInfo(original.replace(sig, `${sig}\nSig: a-key:${Buffer.alloc(64, 7).toString('base64')}\n${sig}`));
    expect(info.sigs).toHaveLength(2);
    const out = serializeNarInfo(info);
    expect(out.indexOf('Sig: a-key:')).toBeLessThan(out.indexOf(sig));
  });

  it('keeps System (Nix 2.8/2.9) and writes it after Deriver', () => {
    const info = parseNarInfo(original.replace(/^(Deriver: .*)$/m, '$1\nSystem: x86_64-linux'));
    expect(info.system).toBe('x86_64-linux');
    expect(serializeNarInfo(info)).toMatch(/\nDeriver: .*\nSystem: x86_64-linux\nSig: /);
  });

  it('writes FileHash/FileSize only when known', () => {
    const { fileHash: _h, fileSize: _s, ...rest } = parseNarInfo(original);
    const text = serializeNarInfo(rest as NarInfo);
    expect(text).not.toMatch(/FileHash|FileSize/);
    expect(parseNarInfo(text).fileHash).toBeUndefined();
  });
});

/** A mutation of the Nix-written narinfo and what the error must say. */
const malformed: Array<[string, (t: string) => string | Uint8Array, RegExp]> = [
  ['no final newline', (t) => t.slice(0, -1), /the last line \(\d+\) does not end with a newline/],
  ['CRLF line endings', (t) => t.replace(/\n/g, '\r\n'), /line 1 contains a carriage return/],
  ['a blank line', (t) => t.replace('\nCompression', '\n\nCompression'), /line 3: blank line/],
  ['no space after the colon', (t) => t.replace('StorePath: ', 'StorePath:'), /line 1 \(StorePath\): expected exactly one space after 'StorePath:'/],
  ['two spaces after the colon', (t) => t.replace('NarSize: ', 'NarSize:  '), /line 7 \(NarSize\): more than one space/],
  ['References without the space', (t) => t.replace(/^References: .*$/m, 'References:'), /line 8 \(References\): no space after 'References:'; write an empty value as 'References: '/],
  ['a line without colon', (t) => t.replace('URL: ', 'URL '), /line 2: expected 'Key: value', found no ':'/],
  ['a lower-case key (so StorePath is missing)', (t) => t.replace('StorePath:', 'storepath:'), /narinfo has no StorePath line/],
  ['missing NarHash', (t) => t.replace(/^NarHash: .*\n/m, ''), /narinfo has no NarHash line/],
  ['missing URL', (t) => t.replace(/^URL: .*\n/m, ''), /narinfo has no URL line/],
  ['missing NarSize', (t) => t.replace(/^NarSize: .*\n/m, ''), /narinfo has no NarSize line/],
  ['an empty URL', (t) => t.replace(/^URL: .*$/m, 'URL: '), /line 2 \(URL\): is empty/],
  ['NarSize 0', (t) => t.replace(/^NarSize: .*$/m, 'NarSize: 0'), /line 7 \(NarSize\): must be greater than 0/],
  ['a signed NarSize', (t) => t.replace(/^NarSize: (.*)$/m, 'NarSize: +$1'), /line 7 \(NarSize\): must be a decimal integer/],
  ['a NarSize with leading zero', (t) => t.replace(/^NarSize: (.*)$/m, 'NarSize: 0$1'), /must be a decimal integer without sign, spaces or leading zeros/],
  ['a trailing space', (t) => t.replace(/^FileSize: (.*)$/m, 'FileSize: $1 '), /line 5 \(FileSize\): value ends with a space/],
  ['a huge FileSize', (t) => t.replace(/^FileSize: (.*)$/m, 'FileSize: 99999999999999999999'), /line 5 \(FileSize\): 99999999999999999999 is too large/],
  ['a sha512 NarHash', (t) => t.replace(/^NarHash: .*$/m, `NarHash: sha512:${'0'.repeat(103)}`), /line 6 \(NarHash\): must be a sha256 hash \(Nix verifies NARs with SHA-256\), got sha512/],
  ['an unprefixed NarHash', (t) => t.replace('NarHash: sha256:', 'NarHash: '), /line 6 \(NarHash\): hash '.*' does not say its algorithm/],
  ['a bad FileHash', (t) => t.replace('FileHash: sha256:', 'FileHash: sha256:x'), /line 4 \(FileHash\): hash 'sha256:x.*' has wrong length/],
  ['an unknown Compression', (t) => t.replace('Compression: xz', 'Compression: foo'), /line 3 \(Compression\): unknown compression 'foo' \(Nix 2.35\+ rejects it; known: none, br,/],
  ['an empty Compression', (t) => t.replace('Compression: xz', 'Compression: '), /line 3 \(Compression\): is empty; write the actual compression \(Nix would assume bzip2\)/],
  ['a full path in References', (t) => t.replace('References: ', 'References: /nix/store/'), /line 8 \(References\): reference '\/nix\/store\/.*' is a full path/],
  ['a double space in References', (t) => t.replace(/^References: (\S+) /m, 'References: $1  '), /line 8 \(References\): references must be separated by exactly one space/],
  ['a duplicate reference', (t) => t.replace(/^References: (\S+) .*$/m, 'References: $1 $1'), /line 8 \(References\): reference '.*' is listed twice/],
  ['an invalid reference', (t) => t.replace(/^References: \S+/m, 'References: abc'), /line 8 \(References\): 'abc' is too short to be a valid store path/],
  ['StorePath outside the store', (t) => t.replace('StorePath: /nix/store/', 'StorePath: /gnu/store/'), /line 1 \(StorePath\): '\/gnu\/store\/.*' is not in the Nix store/],
  ['StorePath without the first slash', (t) => t.replace('StorePath: /', 'StorePath: '), /line 1 \(StorePath\): .* is not in the Nix store/],
  ['an invalid Deriver', (t) => t.replace(/^Deriver: .*$/m, 'Deriver: foo.drv'), /line 9 \(Deriver\): 'foo.drv' is too short/],
  ['a duplicate StorePath', (t) => `${t}StorePath: /nix/store/${'0'.repeat(32)}-x\n`, /line 11 \(StorePath\): duplicate StorePath line \(first on line 1\)/],
  ['a second References line', (t) => t.replace('\nDeriver', '\nReferences: \nDeriver'), /line 9 \(References\): duplicate References line \(first on line 8\)/],
  ['two CA lines', (t) => `${t}CA: text:sha256:${'0'.repeat(52)}\nCA: text:sha256:${'0'.repeat(52)}\n`, /line 12 \(CA\): duplicate CA line/],
  ['a malformed CA', (t) => `${t}CA: fixed:git:sha1:${'0'.repeat(32)}\n`, /line 11 \(CA\): content address .* uses git hashing/],
  ['a Sig without key name', (t) => t.replace('Sig: test-1:', 'Sig: :'), /line 10 \(Sig\): signature .* has an empty key name/],
  ['a Sig without colon', (t) => t.replace('Sig: test-1:', 'Sig: test-1'), /line 10 \(Sig\): signature .* is not of the form '<key name>:<base64>'/],
  ['a short Sig', (t) => t.replace(/^Sig: test-1:.*$/m, `Sig: test-1:${Buffer.alloc(32).toString('base64')}`), /line 10 \(Sig\): signature of key 'test-1' decodes to 32 bytes, expected 64/],
  ['a Sig with bad base64', (t) => t.replace(/^Sig: test-1:(.*)$/m, 'Sig: test-1:$1!'), /line 10 \(Sig\): signature of key 'test-1' is not valid base64/],
  ['a tab in a value', (t) => t.replace('URL: nar/', 'URL: nar/\t'), /line 2 \(URL\): value contains a control character/],
  ['a byte order mark', (t) => `\ufeff${t}`, /byte order mark/],
  ['invalid UTF-8', (t) => Buffer.concat([Buffer.from(t), Buffer.from([0xff, 0x0a])]), /narinfo is not valid UTF-8/],
  ['an empty file', () => '', /narinfo is empty/],
  ['a key with a space', (t) => `${t}Foo Bar: x\n`, /line 11: invalid key "Foo Bar"/],
];

describe('malformed narinfos', () => {
  it.each(malformed)('rejects %s', (_name, mutate, message) => {
    const input = mutate(original);
    let error: unknown;
    try {
      parseNarInfo(input);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NarInfoFormatError);
    expect((error as Error).message).toMatch(message);
  });

  it('reports line and field on the error object', () => {
    try {
      parseNarInfo(original.replace(/^NarSize: .*$/m, 'NarSize: x'));
      expect.unreachable();
    } catch (err) {
      expect(err).toMatchObject({ line: 7, field: 'NarSize' });
    }
  });
});

describe('serializeNarInfo', () => {
  it('refuses values that would break the format', () => {
    const info = parseNarInfo(original);
    expect(() => serializeNarInfo({ ...info, url: 'nar/x\nStorePath: evil' })).toThrow(/cannot write URL: it contains a control character/);
    expect(() => serializeNarInfo({ ...info, narSize: 0 })).toThrow(/NarSize/);
  });

  it('sorts references bytewise like Nix', () => {
    const info = parseNarInfo(original);
    const text = serializeNarInfo({ ...info, references: [...info.references].reverse() });
    expect(text).toBe(original);
  });
});

describe('narinfo limits (repeated fields)', () => {
  const sig = (i: number) => `key-${i}:${Buffer.alloc(64, i % 256).toString('base64')}`;
  const withoutSigs = original.replace(/^Sig: .*\n/gm, '');

  it(`accepts ${NARINFO_MAX_SIGNATURES} Sig lines and deduplicates them in file order`, () => {
    const lines = Array.from({ length: NARINFO_MAX_SIGNATURES }, (_, i) => `Sig: ${sig(i % 10)}\n`).join('');
    const info = parseNarInfo(withoutSigs + lines);
    expect(info.sigs).toEqual(Array.from({ length: 10 }, (_, i) => sig(i)));
  });

  it('refuses a narinfo with more Sig lines than the limit, before checking them all', () => {
    // The attack: 40 000 Sig lines (4 MB) took 31 s to deduplicate.
    const lines = Array.from({ length: 40_000 }, (_, i) => `Sig: ${sig(i)}\n`).join('');
    expect(() => parseNarInfo(withoutSigs + lines)).toThrow(
      new RegExp(`line ${withoutSigs.split('\n').length + NARINFO_MAX_SIGNATURES} \\(Sig\\): more than ${NARINFO_MAX_SIGNATURES} Sig lines`),
    );
  });

  it(`accepts ${NARINFO_MAX_REFERENCES} references and refuses one more`, () => {
    const ref = (i: number) => `${encodeNix32(createHash('sha1').update(String(i)).digest()).padEnd(32, '0').slice(0, 32)}-r${i}`;
    const refs = Array.from({ length: NARINFO_MAX_REFERENCES + 1 }, (_, i) => ref(i));
    const at = (n: number) => original.replace(/^References: .*$/m, `References: ${refs.slice(0, n).join(' ')}`);
    expect(parseNarInfo(at(NARINFO_MAX_REFERENCES)).references).toHaveLength(NARINFO_MAX_REFERENCES);
    expect(() => parseNarInfo(at(NARINFO_MAX_REFERENCES + 1))).toThrow(/line 8 \(References\): more than 65536 references/);
  });
});
