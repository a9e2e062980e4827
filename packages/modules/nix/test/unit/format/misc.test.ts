import { describe, expect, it } from 'vitest';
import {
  ContentAddressError,
  NixCacheInfoFormatError,
  RealisationFormatError,
  compareNarStrings,
  decodeNarString,
  encodeNarString,
  formatContentAddress,
  formatDrvOutputId,
  parseContentAddress,
  parseDrvOutputId,
  parseNixCacheInfo,
  parseRealisation,
  realisationFingerprint,
  serializeRealisation,
  renderNixCacheInfo,
  decodeBase64Strict,
} from '../../../src/format/index.js';
import { fixtureText } from './fixtures.js';

describe('content addresses', () => {
  it.each([
    'text:sha256:00xyyr3fi8l6hb839bv3f7yb86yjv7xi1cgh1xnhipym4asvb4aq',
    'fixed:r:sha256:100m8vf4lr3m84rz9ff9ij22ggfiyf0mcrmqjp4g8615h0v4xfw6',
    'fixed:sha256:100m8vf4lr3m84rz9ff9ij22ggfiyf0mcrmqjp4g8615h0v4xfw6',
    'fixed:sha1:0000000000000000000000000000000a',
  ])('round-trips %s', (text) => {
    expect(formatContentAddress(parseContentAddress(text))).toBe(text);
  });

  it('accepts base16 digests and renders Nix32', () => {
    const ca = parseContentAddress(`fixed:r:sha256:${'00'.repeat(32)}`);
    expect(ca.method).toBe('nar');
    expect(formatContentAddress(ca)).toBe(`fixed:r:sha256:${'0'.repeat(52)}`);
  });

  it.each([
    ['foo:sha256:x', /must start with 'text:' or 'fixed:'/],
    ['text:sha1:0000000000000000000000000000000a', /must use sha256/],
    ['fixed:git:sha1:0000000000000000000000000000000a', /git hashing, which Nix 2.8 clients cannot read/],
    ['fixed:r:sha3:abc', /unknown hash algorithm 'sha3'/],
    ['fixed:sha256', /must have the form/],
    ['text:sha256:abc', /invalid hash/],
  ])('rejects %s', (text, message) => {
    expect(() => parseContentAddress(text)).toThrow(ContentAddressError);
    expect(() => parseContentAddress(text)).toThrow(message);
  });
});

describe('nix-cache-info', () => {
  it('renders the recommended file', () => {
    expect(renderNixCacheInfo({ wantMassQuery: true, priority: 40 })).toBe('StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n');
    expect(renderNixCacheInfo()).toBe(fixtureText('cache-xz/nix-cache-info'));
  });

  it('parses like Nix: CRLF, unknown keys and lines without colon are fine', () => {
    expect(parseNixCacheInfo('StoreDir: /nix/store\r\nWantMassQuery: 1\r\nPriority: 30\r\nFoo: bar\nnonsense\n')).toEqual({
      storeDir: '/nix/store',
      wantMassQuery: true,
      priority: 30,
    });
    expect(parseNixCacheInfo('WantMassQuery: yes\n')).toEqual({ wantMassQuery: false });
    expect(parseNixCacheInfo(fixtureText('cache-none/nix-cache-info'))).toEqual({ storeDir: '/nix/store' });
  });

  it('rejects a Priority that makes Nix abort', () => {
    expect(() => parseNixCacheInfo('Priority: high\n')).toThrow(NixCacheInfoFormatError);
    expect(() => parseNixCacheInfo('Priority: high\n')).toThrow(/line 1: Priority must be an integer, got "high"/);
    expect(() => renderNixCacheInfo({ priority: 1.5 })).toThrow(/32-bit integer/);
  });
});

describe('realisations (.doi)', () => {
  const doi = '{"dependentRealisations":{},"id":"sha256:9f1b8c4fd4c2cf2e8d93e11af6b4c4bd7df15d21a8f1a4b5f6c3b5c0a2e9f0d1!out","outPath":"qa1w9gdfrba6jl2r57mb3c43863gqywp-hello.txt","signatures":[]}';

  it('parses, and fingerprints like nlohmann dump without signatures', () => {
    const r = parseRealisation(doi);
    expect(r.outPath).toBe('qa1w9gdfrba6jl2r57mb3c43863gqywp-hello.txt');
    expect(realisationFingerprint(r)).toBe(doi.replace(',"signatures":[]', ''));
    expect(serializeRealisation(r)).toBe(doi);
    const id = parseDrvOutputId(r.id);
    expect(id.outputName).toBe('out');
    expect(formatDrvOutputId(id)).toBe(r.id);
  });

  it.each([
    ['sha256:abc', /expected '<hash>!<output name>'/],
    ['sha256:abc!out', /wrong length/],
    [`sha256:${'0'.repeat(64)}!`, /output the name is empty/],
  ])('rejects the id %s', (id, message) => {
    expect(() => parseDrvOutputId(id)).toThrow(RealisationFormatError);
    expect(() => parseDrvOutputId(id)).toThrow(message);
  });

  it('rejects bad documents', () => {
    expect(() => parseRealisation('{')).toThrow(/not valid JSON/);
    expect(() => parseRealisation(doi.replace('"outPath":"qa1w', '"outPath":"/nix/store/qa1w'))).toThrow(/outPath/);
    expect(() => parseRealisation(doi.replace('"signatures":[]', '"signatures":[1]'))).toThrow(/array of strings/);
  });
});

describe('NAR strings', () => {
  it('round-trip arbitrary bytes and keep UTF-8 readable', () => {
    for (const hex of ['', '41', 'c3a9', 'ff', 'c3', 'eda080', 'f09f9880', 'efbbbf41', '80ff41c3a9e2']) {
      const bytes = Buffer.from(hex, 'hex');
      expect(Buffer.from(encodeNarString(decodeNarString(bytes))).toString('hex')).toBe(hex);
    }
    expect(decodeNarString(Buffer.from('c3a9', 'hex'))).toBe('é');
    expect(decodeNarString(Buffer.from('efbbbf41', 'hex'))).toBe('\ufeffA');
    expect(decodeNarString(Buffer.from('ff41', 'hex'))).toBe('\udcffA');
  });

  it('compare by bytes', () => {
    expect(compareNarStrings('B', 'a')).toBeLessThan(0);
    expect(compareNarStrings('10', '9')).toBeLessThan(0);
    expect(compareNarStrings('\udcff', 'é')).toBeGreaterThan(0);
  });

  it('refuse lone surrogates that do not stand for bytes', () => {
    expect(() => encodeNarString('\ud800')).toThrow(/lone surrogate/);
  });
});

describe('strict base64', () => {
  it('accepts only canonical padded base64', () => {
    expect(decodeBase64Strict('Zm8=')).toEqual(new Uint8Array([0x66, 0x6f]));
    for (const bad of ['Zm8', 'Zm9=', 'Zm8=\n', 'Z m8=', 'Zm8==', '====']) expect(decodeBase64Strict(bad)).toBeUndefined();
  });
});
