import { readFileSync } from 'node:fs';

/**
 * The dump archive (`forge admin dump`): an uncompressed tar (blobs are NARs that are
 * compressed already) whose entries come in the order a restore needs them:
 *
 *   forge-dump.json          the manifest: format, migrations, tables with their columns and row counts
 *   secret.key               the server secret when it lives in the data directory (owner keys are sealed with it)
 *   blobs.txt                one line per blob the database names: `<sha256> <size>`
 *   blobs/aa/bb/<sha256>     each of those blobs (left out with --no-blobs)
 *   db/<table>.jsonl.gz      each table's rows as PostgreSQL's row_to_json, parents before children
 *
 * Blobs come before the tables so that a restore stores them first and then writes every
 * row in one transaction: a restore that stops halfway leaves no row without its blob.
 */
export const DUMP_FORMAT = 'forge-dump';
export const DUMP_FORMAT_VERSION = 1;
export const MANIFEST_ENTRY = 'forge-dump.json';
export const SECRET_ENTRY = 'secret.key';
export const BLOB_LIST_ENTRY = 'blobs.txt';

export interface DumpTable {
  name: string;
  columns: string[];
  rows: number;
  /** The entry holding the rows. */
  entry: string;
}

export interface DumpManifest {
  format: typeof DUMP_FORMAT;
  version: typeof DUMP_FORMAT_VERSION;
  createdAt: string;
  forgeVersion: string;
  /** The database the dump was read from (`pglite` or `postgres`); a restore may target either. */
  sourceDatabase: string;
  /** Applied migrations, oldest first: a restore needs a forge with exactly these. */
  migrations: string[];
  tables: DumpTable[];
  blobs: { count: number; bytes: number; included: boolean };
  /** `file`: secret.key is in the archive; `environment`: FORGE_SECRET, which the operator keeps. */
  secret: 'file' | 'environment';
}

export const blobEntry = (sha256: string) => `blobs/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
export const tableEntry = (table: string) => `db/${table}.jsonl.gz`;
const BLOB_ENTRY = /^blobs\/([0-9a-f]{2})\/([0-9a-f]{2})\/([0-9a-f]{64})$/;

/** The sha256 a blob entry's name gives, or null for any other entry. */
export function blobOfEntry(name: string): string | null {
  const m = BLOB_ENTRY.exec(name);
  return m && m[3]!.startsWith(m[1]! + m[2]!) ? m[3]! : null;
}

/**
 * Bytes a tar entry of `size` bytes takes: a 512-byte ustar header and the data padded to
 * 512 bytes (names stay under 100 characters, so no extended headers are written).
 */
export const tarEntryBytes = (size: number) => 512 + Math.ceil(size / 512) * 512;
/** Two zero blocks end a tar archive. */
export const TAR_END_BYTES = 1024;

export function parseManifest(text: string): DumpManifest {
  let m: DumpManifest;
  try {
    m = JSON.parse(text) as DumpManifest;
  } catch {
    throw new Error(`${MANIFEST_ENTRY} is not JSON: not a forge dump`);
  }
  if (m?.format !== DUMP_FORMAT) throw new Error('not a forge dump (its manifest names another format)');
  if (m.version !== DUMP_FORMAT_VERSION) {
    throw new Error(`dump format version ${m.version}; this forge reads version ${DUMP_FORMAT_VERSION}`);
  }
  if (!Array.isArray(m.migrations) || !Array.isArray(m.tables) || typeof m.blobs?.count !== 'number') {
    throw new Error(`${MANIFEST_ENTRY} is incomplete`);
  }
  return m;
}

/** This forge's version, from the server package's package.json. */
export function forgeVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}
