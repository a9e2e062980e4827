/**
 * `.narinfo` files (protocol reference §2). The parser is at least as strict as Nix's
 * (2.8.0:src/libstore/nar-info.cc:7-88; master nar-info.cc) and refuses everything Nix
 * would misread rather than silently reinterpreting it: a missing final newline, CR, blank
 * lines, anything but exactly one space after the colon, and duplicate single-valued keys
 * (Nix keeps the last StorePath/NarHash… it sees, so a duplicate means two readers may
 * disagree about what was signed). Every rejection is a {@link NarInfoFormatError} saying
 * which line or field is wrong and why; the messages are meant for the uploader.
 */
import { Buffer } from 'node:buffer';
import { isCompressionName, COMPRESSION_NAMES, type CompressionName } from './compression.js';
import { formatContentAddress, parseContentAddress, type ContentAddress } from './content-address.js';
import { NarInfoFormatError } from './errors.js';
import { formatHash, parseSha256Hash, type Hash } from './hash.js';
import { parseSignature } from './signing.js';
import { formatStorePath, NIX_STORE_DIR, parseStorePath, parseStorePathBaseName, type StorePath } from './store-path.js';

/** A parsed narinfo. Field names follow Nix's `NarInfo`/`ValidPathInfo`. */
export interface NarInfo {
  /** `StorePath:` (full path in the file). */
  readonly storePath: StorePath;
  /** `URL:` of the (compressed) NAR, normally `nar/<filehash>.nar[.ext]`. */
  readonly url: string;
  /** `Compression:`. A missing line means `bzip2` to Nix, so that is what parsing returns. */
  readonly compression: CompressionName;
  /** `FileHash:` of the compressed file, always SHA-256. */
  readonly fileHash?: Hash;
  /** `FileSize:` of the compressed file. */
  readonly fileSize?: number;
  /** `NarHash:`, always SHA-256. */
  readonly narHash: Hash;
  /** `NarSize:`, > 0. */
  readonly narSize: number;
  /** `References:` (base names in the file), in file order, without duplicates. */
  readonly references: readonly StorePath[];
  /** `Deriver:`; absent for `unknown-deriver` or no line. */
  readonly deriver?: StorePath;
  /** `System:` (written by Nix 2.8/2.9 only). */
  readonly system?: string;
  /** `Sig:` lines, each `<key name>:<base64 signature>`, deduplicated, in file order. */
  readonly sigs: readonly string[];
  /** `CA:` content address. */
  readonly ca?: ContentAddress;
}

/** Options shared by {@link parseNarInfo} and {@link serializeNarInfo}. */
export interface NarInfoOptions {
  /** Store directory of `StorePath:` (default `/nix/store`). */
  storeDir?: string;
}

const KEY = /^[A-Za-z][A-Za-z0-9]*$/;
const COUNT = /^(0|[1-9][0-9]*)$/;
// Control characters have no place in any value, and a tab or DEL in a URL or path is a mistake.
const CONTROL = /[\u0000-\u001f\u007f]/;
const REPEATABLE = new Set(['Sig']);

/**
 * Most `Sig:` lines a narinfo may carry. Nix sets no limit, but a narinfo holds one
 * signature per key that signed it: one for a path built locally, two or three on
 * cache.nixos.org after re-signing, a handful through a chain of caches. 64 is far above
 * anything real, and bounds the signature checks one narinfo can cause (each is an
 * ed25519 verification when served or checked).
 */
export const NARINFO_MAX_SIGNATURES = 64;

/**
 * Most store paths one `References:` line may list. Nix sets no limit; a path's direct
 * references are the store paths its files mention, a few dozen usually, a few thousand for
 * the largest environments (`buildEnv` of a whole package set, texlive's full scheme has
 * about 4 000). 65 536 is far above that and bounds the rows one narinfo adds to the
 * reference tables and the closure queries it feeds.
 */
export const NARINFO_MAX_REFERENCES = 65_536;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses a narinfo. Accepts the bytes of an upload (must be UTF-8) or text. See the module
 * documentation for the rules; unknown keys are ignored, as Nix ignores them.
 */
export function parseNarInfo(input: string | Uint8Array, options: NarInfoOptions = {}): NarInfo {
  const storeDir = options.storeDir ?? NIX_STORE_DIR;
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    try {
      text = utf8.decode(input);
    } catch {
      throw new NarInfoFormatError('narinfo is not valid UTF-8');
    }
  }
  if (text.length === 0) throw new NarInfoFormatError('narinfo is empty');
  if (text.charCodeAt(0) === 0xfeff) throw new NarInfoFormatError('narinfo starts with a byte order mark; Nix would read it as part of the first key', { line: 1 });
  const cr = text.indexOf('\r');
  if (cr >= 0) {
    throw new NarInfoFormatError(
      `line ${lineOf(text, cr)} contains a carriage return: narinfo lines must end with LF only (Nix would keep the CR in the value)`,
      { line: lineOf(text, cr) },
    );
  }
  const lines = text.split('\n');
  if (lines[lines.length - 1] !== '') {
    throw new NarInfoFormatError(
      `the last line (${lines.length}) does not end with a newline; Nix rejects such a narinfo as corrupt`,
      { line: lines.length },
    );
  }
  lines.pop();

  const seen = new Map<string, number>();
  const fields: Partial<Record<string, unknown>> = {};
  // Signatures in file order without duplicates; the set keeps deduplication linear.
  const sigs: string[] = [];
  const sigSet = new Set<string>();
  let sigLines = 0;

  lines.forEach((line, index) => {
    const lineNo = index + 1;
    const fail = (message: string, field?: string): never => {
      throw new NarInfoFormatError(`line ${lineNo}${field === undefined ? '' : ` (${field})`}: ${message}`, { line: lineNo, field });
    };
    if (line === '') fail('blank line; Nix would glue the newline onto the next key and ignore that line');
    const colon = line.indexOf(':');
    if (colon < 0) fail(`expected 'Key: value', found no ':' in ${JSON.stringify(line)}`);
    const key = line.slice(0, colon);
    if (!KEY.test(key)) fail(`invalid key ${JSON.stringify(key)} (keys are letters and digits, case-sensitive)`);
    if (colon + 1 === line.length) fail(`no space after '${key}:'; write an empty value as '${key}: ' (with the space)`, key);
    if (line[colon + 1] !== ' ') fail(`expected exactly one space after '${key}:'`, key);
    const value = line.slice(colon + 2);
    if (value.startsWith(' ')) fail(`more than one space after '${key}:' (Nix keeps the extra space as part of the value)`, key);
    if (value.endsWith(' ')) fail(`value ends with a space`, key);
    if (CONTROL.test(value)) fail(`value contains a control character`, key);

    if (!REPEATABLE.has(key)) {
      const first = seen.get(key);
      if (first !== undefined) fail(`duplicate ${key} line (first on line ${first})`, key);
      seen.set(key, lineNo);
    }
    const wrap = <T>(parse: () => T): T => {
      try {
        return parse();
      } catch (err) {
        return fail((err as Error).message, key);
      }
    };

    switch (key) {
      case 'StorePath':
        fields.storePath = wrap(() => parseStorePath(value, storeDir));
        break;
      case 'URL':
        if (value === '') fail('is empty', key);
        fields.url = value;
        break;
      case 'Compression':
        if (value === '') fail('is empty; write the actual compression (Nix would assume bzip2)', key);
        if (!isCompressionName(value)) {
          fail(`unknown compression '${value}' (Nix 2.35+ rejects it; known: ${COMPRESSION_NAMES.join(', ')})`, key);
        }
        fields.compression = value;
        break;
      case 'FileHash':
        fields.fileHash = wrap(() => parseSha256Hash(value));
        break;
      case 'FileSize':
        fields.fileSize = wrap(() => parseCount(value));
        break;
      case 'NarHash':
        fields.narHash = wrap(() => parseSha256Hash(value));
        break;
      case 'NarSize': {
        const n = wrap(() => parseCount(value));
        if (n === 0) fail('must be greater than 0', key);
        fields.narSize = n;
        break;
      }
      case 'References':
        fields.references = wrap(() => parseReferences(value));
        break;
      case 'Deriver':
        if (value !== 'unknown-deriver') fields.deriver = wrap(() => parseStorePathBaseName(value));
        break;
      case 'System':
        if (value !== '') fields.system = value;
        break;
      case 'Sig':
        if (++sigLines > NARINFO_MAX_SIGNATURES) {
          fail(`more than ${NARINFO_MAX_SIGNATURES} Sig lines (one per signing key is what Nix writes)`, key);
        }
        wrap(() => parseSignature(value));
        if (!sigSet.has(value)) {
          sigSet.add(value);
          sigs.push(value);
        }
        break;
      case 'CA':
        // Nix treats an empty CA as absent (parseContentAddressOpt).
        if (value !== '') fields.ca = wrap(() => parseContentAddress(value));
        break;
      default:
        // Unknown keys are ignored, as Nix does (this is how 2.10+ treats System).
        break;
    }
  });

  for (const required of ['StorePath', 'URL', 'NarHash', 'NarSize']) {
    if (!seen.has(required)) throw new NarInfoFormatError(`narinfo has no ${required} line (required)`, { field: required });
  }
  return {
    storePath: fields.storePath as StorePath,
    url: fields.url as string,
    compression: (fields.compression as CompressionName | undefined) ?? 'bzip2',
    ...(fields.fileHash !== undefined && { fileHash: fields.fileHash as Hash }),
    ...(fields.fileSize !== undefined && { fileSize: fields.fileSize as number }),
    narHash: fields.narHash as Hash,
    narSize: fields.narSize as number,
    references: (fields.references as StorePath[] | undefined) ?? [],
    ...(fields.deriver !== undefined && { deriver: fields.deriver as StorePath }),
    ...(fields.system !== undefined && { system: fields.system as string }),
    sigs,
    ...(fields.ca !== undefined && { ca: fields.ca as ContentAddress }),
  };
}

/**
 * Writes a narinfo in Nix 2.8's field order (2.8.0:src/libstore/nar-info.cc:90-121):
 * `References: ` even when empty, references and signatures sorted and deduplicated,
 * hashes as `sha256:<nix32>`, an explicit `Compression:` line (so `none` is never read
 * as bzip2). `FileHash`/`FileSize` are written when known, as Nix 2.20+ does.
 */
export function serializeNarInfo(info: NarInfo, options: NarInfoOptions = {}): string {
  const storeDir = options.storeDir ?? NIX_STORE_DIR;
  const check = (field: string, value: string): string => {
    if (CONTROL.test(value)) throw new NarInfoFormatError(`cannot write ${field}: it contains a control character`, { field });
    return value;
  };
  if (!(info.narSize > 0 && Number.isSafeInteger(info.narSize))) {
    throw new NarInfoFormatError('cannot write NarSize: it must be a positive integer', { field: 'NarSize' });
  }
  if (info.url === '') throw new NarInfoFormatError('cannot write URL: it is empty', { field: 'URL' });
  const lines = [
    `StorePath: ${formatStorePath(info.storePath, storeDir)}`,
    `URL: ${check('URL', info.url)}`,
    `Compression: ${info.compression}`,
  ];
  if (info.fileHash !== undefined) lines.push(`FileHash: ${formatHash(info.fileHash)}`);
  if (info.fileSize !== undefined) lines.push(`FileSize: ${info.fileSize}`);
  lines.push(`NarHash: ${formatHash(info.narHash)}`, `NarSize: ${info.narSize}`);
  lines.push(`References: ${sortedUnique(info.references.map((r) => r.baseName)).join(' ')}`);
  if (info.deriver !== undefined) lines.push(`Deriver: ${info.deriver.baseName}`);
  if (info.system !== undefined && info.system !== '') lines.push(`System: ${check('System', info.system)}`);
  for (const sig of sortedUnique(info.sigs)) lines.push(`Sig: ${check('Sig', sig)}`);
  if (info.ca !== undefined) lines.push(`CA: ${formatContentAddress(info.ca)}`);
  return `${lines.join('\n')}\n`;
}

function parseCount(value: string): number {
  if (!COUNT.test(value)) {
    throw new NarInfoFormatError(`must be a decimal integer without sign, spaces or leading zeros, got ${JSON.stringify(value)}`);
  }
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new NarInfoFormatError(`${value} is too large`);
  return n;
}

function parseReferences(value: string): StorePath[] {
  if (value === '') return [];
  const refs: StorePath[] = [];
  const seen = new Set<string>();
  const names = value.split(' ', NARINFO_MAX_REFERENCES + 1);
  if (names.length > NARINFO_MAX_REFERENCES) {
    throw new NarInfoFormatError(`more than ${NARINFO_MAX_REFERENCES} references (the most this cache accepts for one store path)`);
  }
  for (const ref of names) {
    if (ref === '') throw new NarInfoFormatError('references must be separated by exactly one space');
    if (ref.startsWith('/')) {
      throw new NarInfoFormatError(`reference '${ref}' is a full path; References lists base names (<hash>-<name>)`);
    }
    if (seen.has(ref)) throw new NarInfoFormatError(`reference '${ref}' is listed twice`);
    seen.add(ref);
    refs.push(parseStorePathBaseName(ref));
  }
  return refs;
}

/** Sorted bytewise (like Nix's `std::set<std::string>`) without duplicates. */
function sortedUnique(values: readonly string[]): string[] {
  // Encode once per value, not once per comparison.
  const keyed = [...new Set(values)].map((value) => ({ value, bytes: Buffer.from(value) }));
  return keyed.sort((a, b) => Buffer.compare(a.bytes, b.bytes)).map((k) => k.value);
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
