/**
 * Fuzz properties of the Nix format parsers (issue 16, "beyond the list"), shared by the
 * small run in the unit tests (`test/unit/format/fuzz.test.ts`) and the million-input run
 * (`npm run fuzz`, `test/fuzz/run.ts`). Each target feeds a parser generated inputs —
 * valid documents, valid documents with random damage, and noise — and asserts:
 *
 * - nothing throws anything but a `NixFormatError` (no TypeError, RangeError, crash);
 * - nothing non-canonical is accepted: what a parser accepts renders back to the same
 *   bytes (NAR, listing written by Nix), or to a fixed point where Nix itself accepts
 *   several spellings (narinfo field order and hash encodings, JSON spacing): rendering,
 *   parsing and rendering again changes nothing; NarHash and NarSize are the hash and
 *   length of the bytes;
 * - the result does not depend on how the input is split into chunks;
 * - the work per input is bounded: a generous time limit per input (a hang or blow-up,
 *   not a benchmark), and output bounded by input (listing bytes, entries).
 */
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import {
  COMPRESSION_NAMES,
  HashPartCollector,
  NIX32_ALPHABET,
  NarInfoFormatError,
  NarParser,
  NixFormatError,
  createNarVerifier,
  decodeNarString,
  decompressChunks,
  encodeNarString,
  formatContentAddress,
  parseListing,
  parseNarInfo,
  parseRealisation,
  renderListing,
  serializeNarInfo,
  serializeRealisation,
  writeNar,
  type ContentAddress,
  type NarInfo,
  type NarListingNode,
  type NarTree,
  type Realisation,
  type SupportedCompression,
} from '../../src/format/index.js';

/** A hang or a blow-up, far above what any input of these sizes needs. */
export const MAX_MS_PER_INPUT = 2000;

/** Thrown by a property when an invariant breaks (so fast-check reports and shrinks it). */
class InvariantError extends Error {}

function invariant(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

/** Runs `parse`; a `NixFormatError` is a refusal, anything else escapes (a crash). */
function attempt<T>(parse: () => T): { ok: true; value: T } | { ok: false; error: NixFormatError } {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    if (error instanceof NixFormatError) return { ok: false, error };
    throw error;
  }
}

function timed<T>(what: string, work: () => T): T {
  const start = performance.now();
  const result = work();
  const ms = performance.now() - start;
  invariant(ms < MAX_MS_PER_INPUT, `${what} took ${ms.toFixed(0)} ms for one input`);
  return result;
}

const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.byteLength), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

// ---------------------------------------------------------------------------------------
// Byte mutations: the damage applied to valid documents.

type Mutation =
  | { op: 'flip'; at: number; xor: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }
  | { op: 'truncate'; at: number }
  | { op: 'u64'; at: number; value: bigint };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0, 1, 0x2f, 0x2e, 0x28, 0x29, 0x7f, 0x80, 0xff) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 24 }) }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 48 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  // NAR lengths are u64s at 8-byte boundaries: overwrite one with a small, huge or odd value.
  fc.record({ op: fc.constant('u64' as const), at: fc.nat(), value: fc.oneof(fc.bigInt({ min: 0n, max: 300n }), fc.constantFrom(2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n)) }),
);

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  let bytes = Buffer.from(input);
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    switch (m.op) {
      case 'flip':
        if (bytes.length) bytes[at] = bytes[at]! ^ m.xor;
        break;
      case 'set':
        if (bytes.length) bytes[at] = m.value;
        break;
      case 'insert':
        bytes = Buffer.concat([bytes.subarray(0, at), m.bytes, bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.length)]);
        break;
      case 'duplicate':
        bytes = Buffer.concat([bytes.subarray(0, at + m.length), bytes.subarray(at)]);
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'u64': {
        const aligned = at - (at % 8);
        if (aligned + 8 <= bytes.length) bytes.writeBigUInt64LE(m.value, aligned);
        break;
      }
    }
  }
  return bytes;
}

/** Split points (as fractions) for feeding an input in chunks. */
const splitsArb = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 6 });

function chunksOf(bytes: Uint8Array, splits: readonly number[]): Uint8Array[] {
  const cuts = [...new Set(splits.map((s) => Math.floor(s * bytes.length)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(bytes.subarray(prev, cut));
    prev = cut;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// NAR trees.

/** NAR names: short ASCII, or any bytes but `/` and NUL (non-UTF-8 included). */
const nameArb = fc
  .oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[a-zA-Z0-9._+-]{1,10}$/) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 12 }).map((b) => decodeNarString(b.map((x) => (x === 0 || x === 0x2f ? 0x41 : x)))) },
    { weight: 1, arbitrary: fc.constantFrom('9', '10', 'a', 'A', 'é', '\u00ff', 'x'.repeat(255), '.a', '..a', '-') },
  )
  .filter((n) => n !== '.' && n !== '..');

const targetArb = fc.oneof(
  fc.stringMatching(/^[a-zA-Z0-9./_-]{1,30}$/),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((b) => decodeNarString(b.map((x) => (x === 0 ? 0x41 : x)))),
);

/** A file tree with every node type, names in any byte order, contents up to 300 bytes. */
export const narTreeArb: fc.Arbitrary<NarTree> = fc.letrec<{ node: NarTree; file: NarTree; link: NarTree; dir: NarTree }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('file'), tie('link'), tie('dir')),
  file: fc.record({
    type: fc.constant('regular' as const),
    contents: fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom(`/nix/store/${'a'.repeat(32)}-x`, 'hello\n', '')),
    executable: fc.boolean(),
  }),
  link: fc.record({ type: fc.constant('symlink' as const), target: targetArb }),
  dir: fc
    .uniqueArray(fc.tuple(nameArb, tie('node')), { selector: ([name]) => Buffer.from(encodeNarString(name)).toString('latin1'), maxLength: 5 })
    .map((entries) => ({ type: 'directory' as const, entries: new Map(entries) })),
})).node;

/** A tree from a parse: the streamed listing plus the file contents handed out. */
function treeFromParse(listing: NarListingNode, contents: Map<string, Buffer[]>, path = ''): NarTree {
  switch (listing.type) {
    case 'regular':
      return { type: 'regular', executable: listing.executable, contents: Buffer.concat(contents.get(path) ?? []) };
    case 'symlink':
      return { type: 'symlink', target: listing.target };
    case 'directory':
      return {
        type: 'directory',
        entries: new Map([...listing.entries].map(([name, child]) => [name, treeFromParse(child, contents, path === '' ? name : `${path}/${name}`)])),
      };
  }
}

interface NarOutcome {
  ok: boolean;
  narHash?: string;
  listing?: Buffer;
  message?: string;
}

/** Parses a NAR in the given chunks; on success checks canonicity and the facts. */
function parseNarChecked(bytes: Uint8Array, chunks: readonly Uint8Array[]): NarOutcome {
  const listing: Uint8Array[] = [];
  const contents = new Map<string, Buffer[]>();
  const parser = new NarParser({
    onListing: (chunk) => listing.push(chunk),
    onFileContents: (path, _offset, chunk) => {
      const list = contents.get(path) ?? [];
      list.push(Buffer.from(chunk));
      contents.set(path, list);
    },
  });
  const result = attempt(() => {
    for (const chunk of chunks) parser.write(chunk);
    return parser.end();
  });
  if (!result.ok) return { ok: false, message: result.error.message };
  const r = result.value;
  invariant(r.narSize === bytes.length, `NarSize ${r.narSize} is not the length ${bytes.length}`);
  const digest = createHash('sha256').update(bytes).digest();
  invariant(equalBytes(r.narHash.digest, digest), 'NarHash is not the SHA-256 of the bytes');
  const listingBytes = Buffer.concat(listing);
  invariant(r.listingSize === listingBytes.length, 'listingSize is not the bytes handed out');
  // Work bounded by input: every node costs at least 48 NAR bytes, a listing entry at most
  // six bytes per name or target byte plus a constant.
  invariant(r.entryCount * 48 <= bytes.length, `${r.entryCount} entries in ${bytes.length} bytes`);
  invariant(listingBytes.length <= 6 * bytes.length + 64, `listing of ${listingBytes.length} bytes for a NAR of ${bytes.length}`);
  // Canonical: what was accepted is exactly the NAR of what it holds.
  const parsed = parseListing(listingBytes);
  const rewritten = writeNar(treeFromParse(parsed.root, contents));
  invariant(equalBytes(rewritten, bytes), 'an accepted NAR is not the canonical NAR of its contents');
  invariant(equalBytes(renderListing(parsed), listingBytes), 'the streamed listing does not render back to itself');
  return { ok: true, narHash: digest.toString('hex'), listing: listingBytes };
}

/** NAR inputs: valid trees, damaged trees, and noise. */
export const narInputArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: narTreeArb.map((t) => writeNar(t)) },
  { weight: 5, arbitrary: fc.tuple(narTreeArb, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([t, m]) => mutate(writeNar(t), m)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  // Noise after a valid magic, so the parser gets past the first token.
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.concat([writeNar({ type: 'regular', contents: '' }).subarray(0, 24), b])) },
);

export const narParserProperty = fc.property(narInputArb, splitsArb, (bytes, splits) => {
  const whole = timed('NarParser', () => parseNarChecked(bytes, [bytes]));
  const split = timed('NarParser (chunked)', () => parseNarChecked(bytes, chunksOf(bytes, splits)));
  invariant(whole.ok === split.ok, `verdict depends on chunking: ${whole.message ?? 'ok'} / ${split.message ?? 'ok'}`);
  invariant(whole.message === split.message, `error depends on chunking: ${whole.message} / ${split.message}`);
  if (whole.ok) invariant(equalBytes(whole.listing!, split.listing!), 'listing depends on chunking');
  // The reference scan is total too, and chunking-independent.
  const a = new HashPartCollector();
  a.write(bytes);
  const b = new HashPartCollector();
  for (const chunk of chunksOf(bytes, splits)) b.write(chunk);
  invariant(JSON.stringify(a.result()) === JSON.stringify(b.result()), 'reference candidates depend on chunking');
});

// ---------------------------------------------------------------------------------------
// The verifier: NARs inside each compression, and damage to the compressed file.

const compressors: Record<'none' | 'gzip', (nar: Uint8Array) => Uint8Array> = {
  none: (nar) => nar,
  gzip: (nar) => gzipSync(nar, { level: 1 }),
};

export const verifierProperty = fc.asyncProperty(
  narInputArb,
  fc.constantFrom<keyof typeof compressors>('none', 'gzip'),
  fc.option(fc.array(mutationArb, { minLength: 1, maxLength: 2 }), { freq: 3 }),
  splitsArb,
  async (nar, compression, damage, splits) => {
    const file = damage ? mutate(compressors[compression](nar), damage) : compressors[compression](nar);
    const listing: Uint8Array[] = [];
    const verifier = createNarVerifier({ compression: compression as SupportedCompression, onListing: (c) => void listing.push(c) });
    const start = performance.now();
    let facts;
    try {
      for (const chunk of chunksOf(file, splits)) await verifier.write(chunk);
      facts = await verifier.end();
    } catch (error) {
      verifier.abort();
      if (!(error instanceof NixFormatError)) throw error;
    }
    invariant(performance.now() - start < MAX_MS_PER_INPUT, 'the verifier took too long for one input');
    if (!facts) return;
    // Accepted: the facts are those of the bytes the file decompresses to.
    const out: Uint8Array[] = [];
    for await (const chunk of decompressChunks((async function* () { yield file; })(), compression as SupportedCompression)) out.push(chunk);
    const decompressed = Buffer.concat(out);
    const reference = parseNarChecked(decompressed, [decompressed]);
    invariant(reference.ok, 'the verifier accepted what the parser refuses');
    invariant(facts.narSize === decompressed.length && Buffer.from(facts.narHash.digest).toString('hex') === reference.narHash, 'NarHash/NarSize are not those of the decompressed file');
    invariant(facts.fileSize === file.length, 'FileSize is not the length of the file');
    invariant(equalBytes(Buffer.concat(listing), reference.listing!), 'the verifier streamed another listing');
  },
);

// ---------------------------------------------------------------------------------------
// narinfo.

const nix32 = (length: number) => fc.string({ unit: fc.constantFrom(...NIX32_ALPHABET), minLength: length, maxLength: length });
const storeNameArb = fc.stringMatching(/^[a-zA-Z0-9+._?=-]{1,40}$/).filter((n) => n !== '.' && n !== '..' && !n.startsWith('.'));
const baseNameArb = fc.tuple(nix32(32), storeNameArb).map(([h, n]) => `${h}-${n}`);
const digestArb = (length: number) => fc.uint8Array({ minLength: length, maxLength: length });
const sha256Arb = digestArb(32).map((digest) => ({ algorithm: 'sha256' as const, digest }));
const sigArb = fc.tuple(fc.stringMatching(/^[a-zA-Z0-9.-]{1,20}$/), digestArb(64)).map(([k, s]) => `${k}:${Buffer.from(s).toString('base64')}`);
const caArb: fc.Arbitrary<ContentAddress> = fc.oneof(
  sha256Arb.map((hash) => ({ method: 'text' as const, hash })),
  fc.tuple(fc.constantFrom('flat' as const, 'nar' as const), fc.constantFrom(['md5', 16] as const, ['sha1', 20] as const, ['sha256', 32] as const, ['sha512', 64] as const)).chain(([method, [algorithm, size]]) =>
    digestArb(size).map((digest) => ({ method, hash: { algorithm, digest } })),
  ),
);

export const narInfoArb: fc.Arbitrary<NarInfo> = fc
  .record(
    {
      storePath: baseNameArb,
      url: fc.oneof(nix32(52).map((h) => `nar/${h}.nar.xz`), fc.stringMatching(/^[!-~]{1,40}$/)),
      compression: fc.constantFrom(...COMPRESSION_NAMES),
      fileHash: sha256Arb,
      fileSize: fc.nat(),
      narHash: sha256Arb,
      narSize: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      references: fc.uniqueArray(baseNameArb, { maxLength: 6 }),
      deriver: baseNameArb.map((b) => `${b}.drv`),
      system: fc.stringMatching(/^[a-z0-9_-]{1,20}$/),
      sigs: fc.uniqueArray(sigArb, { maxLength: 3 }),
      ca: caArb,
    },
    { requiredKeys: ['storePath', 'url', 'compression', 'narHash', 'narSize', 'references', 'sigs'] },
  )
  .map((r) => {
    const text = [
      `StorePath: /nix/store/${r.storePath}`,
      `URL: ${r.url}`,
      `Compression: ${r.compression}`,
      ...(r.fileHash ? [`FileHash: sha256:${Buffer.from(r.fileHash.digest).toString('hex')}`] : []),
      ...(r.fileSize !== undefined ? [`FileSize: ${r.fileSize}`] : []),
      `NarHash: sha256:${Buffer.from(r.narHash.digest).toString('hex')}`,
      `NarSize: ${r.narSize}`,
      `References: ${r.references.join(' ')}`,
      ...(r.deriver ? [`Deriver: ${r.deriver}`] : []),
      ...(r.system ? [`System: ${r.system}`] : []),
      ...r.sigs.map((s) => `Sig: ${s}`),
      ...(r.ca ? [`CA: ${formatContentAddress(r.ca)}`] : []),
    ];
    return parseNarInfo(`${text.join('\n')}\n`);
  });

type NarInfoEdit =
  | { op: 'delete'; line: number }
  | { op: 'duplicate'; line: number }
  | { op: 'swap'; line: number; other: number }
  | { op: 'add'; line: number; text: string }
  | { op: 'char'; at: number; text: string };

/** Line-level damage to a narinfo: delete, duplicate, swap, replace or add lines; edit a character. */
const narInfoEditArb: fc.Arbitrary<NarInfoEdit> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), line: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ op: fc.constant('add' as const), line: fc.nat(), text: fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom('Sig: x:AAAA', 'References: ', 'CA: ', 'Foo: bar', 'NarSize: 0', 'URL:', ' ', '')) }),
  fc.record({ op: fc.constant('char' as const), at: fc.nat(), text: fc.string({ maxLength: 3, unit: 'binary' }) }),
);

function editNarInfo(text: string, edits: readonly NarInfoEdit[]): string {
  let lines = text.split('\n');
  let out = text;
  for (const e of edits) {
    const n = Math.max(lines.length, 1);
    const i = ('line' in e ? e.line : 0) % n;
    switch (e.op) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, lines[i] ?? '');
        break;
      case 'swap': {
        const j = e.other % n;
        [lines[i], lines[j]] = [lines[j] ?? '', lines[i] ?? ''];
        break;
      }
      case 'add':
        lines.splice(i, 0, e.text);
        break;
      case 'char': {
        out = lines.join('\n');
        const at = out.length ? e.at % out.length : 0;
        out = out.slice(0, at) + e.text + out.slice(at + 1);
        lines = out.split('\n');
        break;
      }
    }
  }
  return lines.join('\n');
}

export const narInfoProperty = fc.property(
  narInfoArb,
  fc.option(fc.array(narInfoEditArb, { minLength: 1, maxLength: 3 }), { freq: 2 }),
  (info, edits) => {
    const canonical = serializeNarInfo(info);
    // A canonical narinfo parses and renders back byte for byte.
    invariant(serializeNarInfo(timed('parseNarInfo', () => parseNarInfo(canonical))) === canonical, 'a canonical narinfo does not round-trip');
    if (!edits) return;
    const text = editNarInfo(canonical, edits);
    const result = timed('parseNarInfo', () => attempt(() => parseNarInfo(text)));
    if (!result.ok) {
      invariant(result.error instanceof NarInfoFormatError, `refused with ${result.error.name}, not NarInfoFormatError`);
      return;
    }
    // Accepted (Nix accepts other field orders and hash spellings too): rendering is a fixed point.
    const rendered = serializeNarInfo(result.value);
    invariant(serializeNarInfo(parseNarInfo(rendered)) === rendered, 'an accepted narinfo does not render to a fixed point');
  },
);

// ---------------------------------------------------------------------------------------
// Listings.

/** JSON-ish damage: text edits of a valid listing, or any JSON value. */
export const listingProperty = fc.property(
  narTreeArb,
  fc.option(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), { freq: 2 }),
  fc.option(fc.json({ maxDepth: 4 }), { freq: 5 }),
  (tree, damage, json) => {
    const bytes = listingOf(tree);
    // Nix's own listing: parses and renders back byte for byte.
    const parsed = timed('parseListing', () => parseListing(bytes));
    invariant(equalBytes(renderListing(parsed), bytes), 'a listing as Nix writes it does not round-trip');
    for (const input of [damage ? mutate(bytes, damage) : undefined, json === null ? undefined : Buffer.from(json)]) {
      if (input === undefined) continue;
      const result = timed('parseListing', () => attempt(() => parseListing(input)));
      if (!result.ok) continue;
      const rendered = renderListing(result.value);
      invariant(equalBytes(renderListing(parseListing(rendered)), rendered), 'an accepted listing does not render to a fixed point');
    }
  },
);

function listingOf(tree: NarTree): Uint8Array {
  const chunks: Uint8Array[] = [];
  const parser = new NarParser({ onListing: (c) => chunks.push(c) });
  parser.write(writeNar(tree));
  parser.end();
  return Buffer.concat(chunks);
}

// ---------------------------------------------------------------------------------------
// Realisations.

const drvOutputIdArb = fc.tuple(digestArb(32), fc.stringMatching(/^[a-z][a-z0-9]{0,8}$/)).map(([d, out]) => `sha256:${Buffer.from(d).toString('hex')}!${out}`);

export const realisationArb: fc.Arbitrary<Realisation> = fc.record({
  id: drvOutputIdArb,
  outPath: baseNameArb,
  signatures: fc.uniqueArray(fc.oneof(sigArb, fc.string({ maxLength: 20 })), { maxLength: 3 }),
  dependentRealisations: fc.dictionary(drvOutputIdArb, baseNameArb, { maxKeys: 3 }),
});

export const realisationProperty = fc.property(
  realisationArb,
  fc.option(fc.array(mutationArb, { minLength: 1, maxLength: 3 }), { freq: 2 }),
  fc.option(fc.json({ maxDepth: 3 }), { freq: 5 }),
  (realisation, damage, json) => {
    const canonical = serializeRealisation(realisation);
    const parsed = timed('parseRealisation', () => parseRealisation(canonical));
    invariant(serializeRealisation(parsed) === canonical, 'a canonical realisation does not round-trip');
    for (const input of [damage ? mutate(Buffer.from(canonical), damage) : undefined, json === null ? undefined : Buffer.from(json)]) {
      if (input === undefined) continue;
      const result = timed('parseRealisation', () => attempt(() => parseRealisation(input)));
      if (!result.ok) continue;
      const rendered = serializeRealisation(result.value);
      invariant(serializeRealisation(parseRealisation(rendered)) === rendered, 'an accepted realisation does not render to a fixed point');
    }
  },
);

/** Every target, by name, with the property to run. */
export const TARGETS = {
  'nar-parser': narParserProperty,
  narinfo: narInfoProperty,
  listing: listingProperty,
  realisation: realisationProperty,
  verifier: verifierProperty,
} as const;

export type TargetName = keyof typeof TARGETS;
