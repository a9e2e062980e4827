/**
 * Realisations of content-addressed derivation outputs, the `realisations/<id>.doi` files
 * (experimental `ca-derivations`; protocol reference §3 and §7.1). Nix 2.8 uploads
 * `{"dependentRealisations":{},"id":"sha256:<hex>!out","outPath":"<hash>-<name>","signatures":[]}`.
 * 2.35+ moved to `build-trace-v2/` with another shape, which this module does not cover.
 */
import { Buffer } from 'node:buffer';
import { RealisationFormatError } from './errors.js';
import { parseHash, type Hash } from './hash.js';
import { parseStorePathBaseName, storePathNameProblem } from './store-path.js';

/** A derivation output id, `sha256:<hex>!<output>` (`DrvOutput`, 2.8.0:src/libstore/realisation.cc:10-23). */
export interface DrvOutputId {
  readonly drvHash: Hash;
  readonly outputName: string;
}

/** A parsed `.doi` document. */
export interface Realisation {
  readonly id: string;
  readonly outPath: string;
  readonly signatures: readonly string[];
  readonly dependentRealisations: Readonly<Record<string, string>>;
}

/** Parses a derivation output id such as `sha256:9f…!out`. */
export function parseDrvOutputId(text: string): DrvOutputId {
  const bang = text.indexOf('!');
  if (bang < 0) throw new RealisationFormatError(`invalid derivation output id '${text}': expected '<hash>!<output name>'`);
  let drvHash: Hash;
  try {
    drvHash = parseHash(text.slice(0, bang));
  } catch (err) {
    throw new RealisationFormatError(`invalid derivation output id '${text}': ${(err as Error).message}`);
  }
  const outputName = text.slice(bang + 1);
  const problem = storePathNameProblem(outputName);
  if (problem !== undefined) throw new RealisationFormatError(`invalid derivation output id '${text}': output ${problem}`);
  return { drvHash, outputName };
}

/** Renders an id the way Nix does: the hash in base16 with its algorithm prefix. */
export function formatDrvOutputId(id: DrvOutputId): string {
  return `${id.drvHash.algorithm}:${Buffer.from(id.drvHash.digest).toString('hex')}!${id.outputName}`;
}

/** Parses and checks the shape of a `.doi` document. */
export function parseRealisation(json: string | Uint8Array): Realisation {
  let value: unknown;
  try {
    value = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8'));
  } catch (err) {
    throw new RealisationFormatError(`realisation is not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value)) throw new RealisationFormatError('realisation must be a JSON object');
  const { id, outPath, signatures = [], dependentRealisations = {} } = value;
  if (typeof id !== 'string') throw new RealisationFormatError('realisation "id" must be a string');
  parseDrvOutputId(id);
  if (typeof outPath !== 'string') throw new RealisationFormatError('realisation "outPath" must be a string');
  checkBaseName(outPath, 'outPath');
  if (!Array.isArray(signatures) || !signatures.every((s) => typeof s === 'string')) {
    throw new RealisationFormatError('realisation "signatures" must be an array of strings');
  }
  if (!isObject(dependentRealisations)) throw new RealisationFormatError('realisation "dependentRealisations" must be an object');
  for (const [depId, depPath] of Object.entries(dependentRealisations)) {
    parseDrvOutputId(depId);
    if (typeof depPath !== 'string') throw new RealisationFormatError(`dependent realisation '${depId}' must map to a store path`);
    checkBaseName(depPath, `dependentRealisations["${depId}"]`);
  }
  return { id, outPath, signatures: signatures as string[], dependentRealisations: dependentRealisations as Record<string, string> };
}

/**
 * Renders a realisation as Nix 2.8 writes it (`Realisation::toJSON().dump()`: nlohmann's
 * object keys sorted bytewise, compact; signatures are a sorted set). Parsing accepts any
 * JSON spelling; this is the one canonical form.
 */
export function serializeRealisation(realisation: Realisation): string {
  const deps = Object.keys(realisation.dependentRealisations).sort(compareBytes);
  const depsJson = `{${deps.map((k) => `${JSON.stringify(k)}:${JSON.stringify(realisation.dependentRealisations[k])}`).join(',')}}`;
  const signatures = [...new Set(realisation.signatures)].sort(compareBytes);
  return `{"dependentRealisations":${depsJson},"id":${JSON.stringify(realisation.id)},"outPath":${JSON.stringify(realisation.outPath)},"signatures":${JSON.stringify(signatures)}}`;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The string a realisation signature covers: the JSON without `signatures`, keys sorted,
 * compact, as nlohmann's `dump()` prints it (2.8.0:src/libstore/realisation.cc:109-114).
 */
export function realisationFingerprint(realisation: Realisation): string {
  const deps = Object.keys(realisation.dependentRealisations).sort();
  const depsJson = `{${deps.map((k) => `${JSON.stringify(k)}:${JSON.stringify(realisation.dependentRealisations[k])}`).join(',')}}`;
  return `{"dependentRealisations":${depsJson},"id":${JSON.stringify(realisation.id)},"outPath":${JSON.stringify(realisation.outPath)}}`;
}

function checkBaseName(text: string, field: string): void {
  try {
    parseStorePathBaseName(text);
  } catch (err) {
    throw new RealisationFormatError(`realisation "${field}": ${(err as Error).message}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
