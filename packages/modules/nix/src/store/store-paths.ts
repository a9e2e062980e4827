import type { DataSource, EntityManager } from 'typeorm';
import { isRowId, textProblem } from '@forge/core';
import type { ServerSignature } from './path-signatures.js';

/** One store path in one owner's cache: the narinfo's fields plus bookkeeping. */
export interface StorePathRecord {
  id: number;
  ownerId: number;
  hashPart: string;
  name: string;
  versionId: number;
  url: string;
  compression: string;
  /** nix32 sha256 of the compressed file */
  fileHash: string;
  fileSize: number;
  /** nix32 sha256 of the NAR */
  narHash: string;
  narSize: number;
  narBlobId: number;
  deriver: string | null;
  system: string | null;
  ca: string | null;
  /** Reference basenames (`<hash>-<name>`), sorted. */
  references: string[];
  /** Signatures sent by the uploader (`name:base64`), sorted. */
  sigs: string[];
  /** Provenance: the name of the token that pushed the path (null: a password, a session or the server). */
  tokenName: string | null;
  /** Provenance: the upstream URL the path was pulled through from (pull-through mode), else null. */
  pulledFrom: string | null;
  createdAt: Date;
  lastAccessedAt: Date;
}

export type NewStorePath = Omit<StorePathRecord, 'id' | 'createdAt' | 'lastAccessedAt'>;

type Queryable = Pick<DataSource | EntityManager, 'query'>;

function toStorePath(r: Record<string, unknown>): StorePathRecord {
  const refs = String(r.refs ?? '');
  const sigs = String(r.sigs ?? '');
  return {
    id: Number(r.id),
    ownerId: Number(r.owner_id),
    hashPart: String(r.hash_part),
    name: String(r.name),
    versionId: Number(r.version_id),
    url: String(r.url),
    compression: String(r.compression),
    fileHash: String(r.file_hash),
    fileSize: Number(r.file_size),
    narHash: String(r.nar_hash),
    narSize: Number(r.nar_size),
    narBlobId: Number(r.nar_blob_id),
    deriver: (r.deriver as string | null) ?? null,
    system: (r.system as string | null) ?? null,
    ca: (r.ca as string | null) ?? null,
    references: refs ? refs.split(' ') : [],
    sigs: sigs ? sigs.split('\n') : [],
    tokenName: (r.token_name as string | null) ?? null,
    pulledFrom: (r.pulled_from as string | null) ?? null,
    createdAt: new Date(r.created_at as string),
    lastAccessedAt: new Date(r.last_accessed_at as string),
  };
}

export type StorePathSort = 'created' | 'name' | 'size';

export interface StorePathPage {
  items: StorePathRecord[];
  /** Opaque cursor for the next page, or null at the end. */
  next: string | null;
  /** Opaque cursor for the page before this one (pass it as `before`), or null on the first page. */
  prev: string | null;
}

/**
 * Queries over `nix_store_path` and `nix_reference`. Every lookup goes through an index
 * on (owner_id, …); list pages use keyset pagination so page 1000 costs what page 1 does.
 */
export class StorePaths {
  constructor(private readonly db: Queryable) {}

  async byHash(ownerId: number, hashPart: string): Promise<StorePathRecord | null> {
    const [row] = await this.db.query(`SELECT * FROM nix_store_path WHERE owner_id = $1 AND hash_part = $2`, [ownerId, hashPart]);
    return row ? toStorePath(row) : null;
  }

  /**
   * The path and the server signatures stored for it, in one round trip: what a narinfo
   * GET needs when its rendering is not memoised.
   */
  async byHashWithSignatures(ownerId: number, hashPart: string): Promise<{ path: StorePathRecord; signatures: ServerSignature[] } | null> {
    const [row] = await this.db.query(
      `SELECT p.*, (SELECT coalesce(json_agg(json_build_array(s.key_id, s.sig)), '[]'::json) FROM nix_path_signature s WHERE s.path_id = p.id) AS server_sigs
       FROM nix_store_path p WHERE p.owner_id = $1 AND p.hash_part = $2`,
      [ownerId, hashPart],
    );
    if (!row) return null;
    const raw = typeof row.server_sigs === 'string' ? JSON.parse(row.server_sigs) : row.server_sigs;
    return { path: toStorePath(row), signatures: (raw as Array<[number, string]>).map(([keyId, sig]) => ({ keyId: Number(keyId), sig })) };
  }

  async byVersion(versionId: number): Promise<StorePathRecord | null> {
    const [row] = await this.db.query(`SELECT * FROM nix_store_path WHERE version_id = $1`, [versionId]);
    return row ? toStorePath(row) : null;
  }

  /** Hash parts among `hashParts` that the owner's cache holds, with their names. */
  async present(ownerId: number, hashParts: string[]): Promise<Map<string, string>> {
    if (hashParts.length === 0) return new Map();
    const rows: Array<{ hash_part: string; name: string }> = await this.db.query(
      `SELECT hash_part, name FROM nix_store_path WHERE owner_id = $1 AND hash_part = ANY($2::char(32)[])`,
      [ownerId, hashParts],
    );
    return new Map(rows.map((r) => [r.hash_part, r.name]));
  }

  /** Paths of this owner that reference `hashPart` (excluding itself). */
  async referrers(ownerId: number, hashPart: string, limit = 1000): Promise<StorePathRecord[]> {
    const rows = await this.db.query(
      `SELECT p.* FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id
       WHERE r.owner_id = $1 AND r.ref_hash = $2 AND p.hash_part <> $2 ORDER BY p.name, p.id LIMIT $3`,
      [ownerId, hashPart, limit],
    );
    return rows.map(toStorePath);
  }

  /** Paths whose narinfo names `url` as their NAR. */
  async countByUrl(ownerId: number, url: string): Promise<number> {
    const [row] = await this.db.query(`SELECT count(*)::int AS n FROM nix_store_path WHERE owner_id = $1 AND url = $2`, [ownerId, url]);
    return Number(row.n);
  }

  async byDeriver(ownerId: number, deriver: string): Promise<StorePathRecord[]> {
    const rows = await this.db.query(`SELECT * FROM nix_store_path WHERE owner_id = $1 AND deriver = $2`, [ownerId, deriver]);
    return rows.map(toStorePath);
  }

  /** The closure of a path in this cache: itself and everything it references, transitively. */
  async closure(ownerId: number, hashPart: string): Promise<{ count: number; narSize: number }> {
    const [row] = await this.db.query(
      `WITH RECURSIVE c(hash_part) AS (
         SELECT $2::char(32)
         UNION
         SELECT r.ref_hash FROM c JOIN nix_store_path p ON p.owner_id = $1 AND p.hash_part = c.hash_part
           JOIN nix_reference r ON r.path_id = p.id)
       SELECT count(p.id)::int AS count, coalesce(sum(p.nar_size), 0)::bigint AS nar_size
       FROM c JOIN nix_store_path p ON p.owner_id = $1 AND p.hash_part = c.hash_part`,
      [ownerId, hashPart],
    );
    return { count: Number(row.count), narSize: Number(row.nar_size) };
  }

  /**
   * One page of an owner's store paths. `query` matches a name substring or a hash-part
   * prefix. Keyset pagination: the cursor carries the sort key of the last row (`cursor`,
   * the page after it) or of the first row (`before`, the page before it), so a deep page
   * costs what the first does: one index range scan of `limit` rows.
   */
  async list(
    ownerId: number,
    options: { sort?: StorePathSort; query?: string; limit?: number; cursor?: string | null; before?: string | null },
  ): Promise<StorePathPage> {
    const sort = options.sort ?? 'created';
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
    const params: unknown[] = [ownerId];
    const where = ['owner_id = $1'];
    const q = options.query?.trim().toLowerCase();
    if (q) {
      params.push(`%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      const like = `$${params.length}`;
      params.push(`${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`(lower(name) LIKE ${like} OR hash_part LIKE $${params.length})`);
    }
    // A cursor of another sort (or a tampered one) is ignored: the first page.
    const fits = (c: { key: string | number; id: number } | null) =>
      c && (sort === 'size' ? typeof c.key === 'number' : sort === 'name' ? typeof c.key === 'string' : typeof c.key === 'string' && /^\d{1,17}$/.test(c.key)) ? c : null;
    const before = fits(decodeCursor(options.before));
    const cursor = before ? null : fits(decodeCursor(options.cursor));
    const order = {
      created: { cols: 'created_at DESC, id DESC', back: 'created_at ASC, id ASC', key: 'created_at', dir: '<', backDir: '>' },
      name: { cols: 'name ASC, id ASC', back: 'name DESC, id DESC', key: 'name', dir: '>', backDir: '<' },
      size: { cols: 'nar_size DESC, id DESC', back: 'nar_size ASC, id ASC', key: 'nar_size', dir: '<', backDir: '>' },
    }[sort];
    const at = before ?? cursor;
    if (at) {
      params.push(at.key, at.id);
      // Dates are keyed in whole microseconds since the epoch: a JavaScript Date keeps only
      // milliseconds, and rows pushed within one millisecond would be skipped.
      const key = sort === 'created' ? `(timestamptz 'epoch' + $${params.length - 1}::bigint * interval '1 microsecond')` : `$${params.length - 1}`;
      where.push(`(${order.key}, id) ${before ? order.backDir : order.dir} (${key}, $${params.length})`);
    }
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT *, (extract(epoch FROM created_at) * 1000000)::bigint AS created_us FROM nix_store_path
       WHERE ${where.join(' AND ')} ORDER BY ${before ? order.back : order.cols} LIMIT ${limit + 1}`,
      params,
    );
    const more = rows.length > limit;
    const page = rows.slice(0, limit);
    if (before) page.reverse();
    const items = page.map(toStorePath);
    const keyOf = (r: Record<string, unknown>) =>
      encodeCursor(sort === 'created' ? String(r.created_us) : sort === 'name' ? String(r.name) : Number(r.nar_size), Number(r.id));
    const first = page[0];
    const last = page[page.length - 1];
    // Going back, the rows after this page exist (the page we came from); going forward,
    // the rows before it do whenever we started from a cursor.
    const next = last && (before ? true : more) ? keyOf(last) : null;
    const prev = first && (before ? more : cursor !== null) ? keyOf(first) : null;
    return { items, next, prev };
  }

  /** How many of the owner's paths match `query` (as {@link list} matches it): the API's X-Total-Count. */
  async count(ownerId: number, query?: string): Promise<number> {
    const params: unknown[] = [ownerId];
    let where = 'owner_id = $1';
    const q = query?.trim().toLowerCase();
    if (q) {
      const escaped = q.replace(/[\\%_]/g, (c) => `\\${c}`);
      params.push(`%${escaped}%`, `${escaped}%`);
      where += ` AND (lower(name) LIKE $2 OR hash_part LIKE $3)`;
    }
    const [row] = await this.db.query(`SELECT count(*)::int AS n FROM nix_store_path WHERE ${where}`, params);
    return Number(row.n);
  }

  /**
   * One page of the paths referencing `hashPart` (not itself), by name then id, after the
   * keyset `after` ([name, id]); at most `limit` (≤ 200).
   */
  async referrersPage(ownerId: number, hashPart: string, options: { limit: number; after?: [string, number] | null }): Promise<StorePathRecord[]> {
    const params: unknown[] = [ownerId, hashPart, Math.min(Math.max(options.limit, 1), 200)];
    let keyset = '';
    if (options.after) {
      params.push(options.after[0], options.after[1]);
      keyset = ' AND (p.name, p.id) > ($4, $5)';
    }
    const rows = await this.db.query(
      `SELECT p.* FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id
       WHERE r.owner_id = $1 AND r.ref_hash = $2 AND p.hash_part <> $2${keyset} ORDER BY p.name, p.id LIMIT $3`,
      params,
    );
    return rows.map(toStorePath);
  }

  /**
   * One page of a path's closure in this cache (itself and what it references,
   * transitively, by name then id after `after`). The closure is walked whole for each page:
   * its cost is the closure's size (a Nix closure: hundreds to a few thousand paths).
   */
  async closurePage(ownerId: number, hashPart: string, options: { limit: number; after?: [string, number] | null }): Promise<StorePathRecord[]> {
    const params: unknown[] = [ownerId, hashPart, Math.min(Math.max(options.limit, 1), 200)];
    let keyset = '';
    if (options.after) {
      params.push(options.after[0], options.after[1]);
      keyset = ' WHERE (p.name, p.id) > ($4, $5)';
    }
    const rows = await this.db.query(
      `WITH RECURSIVE c(hash_part) AS (
         SELECT $2::char(32)
         UNION
         SELECT r.ref_hash FROM c JOIN nix_store_path p ON p.owner_id = $1 AND p.hash_part = c.hash_part
           JOIN nix_reference r ON r.path_id = p.id)
       SELECT p.* FROM c JOIN nix_store_path p ON p.owner_id = $1 AND p.hash_part = c.hash_part${keyset}
       ORDER BY p.name, p.id LIMIT $3`,
      params,
    );
    return rows.map(toStorePath);
  }

  /** Bytes of the distinct NAR files (compressed) this owner's paths use: what the cache stores. */
  async storedNarBytes(ownerId: number): Promise<number> {
    const [row] = await this.db.query(
      `SELECT coalesce(sum(b.size), 0)::bigint AS bytes FROM package_blob b
       WHERE b.id IN (SELECT nar_blob_id FROM nix_store_path WHERE owner_id = $1)`,
      [ownerId],
    );
    return Number(row.bytes);
  }

  /**
   * Every path that depends on `hashPart` (referrers, their referrers, …), without itself:
   * what a recursive delete takes along. At most `limit` rows (by name).
   */
  async dependents(ownerId: number, hashPart: string, limit = 1000): Promise<StorePathRecord[]> {
    const rows = await this.db.query(
      `WITH RECURSIVE d(hash_part) AS (
         SELECT $2::char(32)
         UNION
         SELECT p.hash_part FROM d JOIN nix_reference r ON r.owner_id = $1 AND r.ref_hash = d.hash_part
           JOIN nix_store_path p ON p.id = r.path_id)
       SELECT p.* FROM d JOIN nix_store_path p ON p.owner_id = $1 AND p.hash_part = d.hash_part
       WHERE p.hash_part <> $2 ORDER BY p.name, p.id LIMIT $3`,
      [ownerId, hashPart, limit],
    );
    return rows.map(toStorePath);
  }

  /** How many paths of this owner reference `hashPart` (excluding itself). */
  async referrerCount(ownerId: number, hashPart: string): Promise<number> {
    const [row] = await this.db.query(
      `SELECT count(*)::int AS n FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id
       WHERE r.owner_id = $1 AND r.ref_hash = $2 AND p.hash_part <> $2`,
      [ownerId, hashPart],
    );
    return Number(row.n);
  }

  async stats(ownerId: number): Promise<{ paths: number; narBytes: number; fileBytes: number; lastPush: Date | null }> {
    const [row] = await this.db.query(
      `SELECT count(*)::int AS paths, coalesce(sum(nar_size), 0)::bigint AS nar, coalesce(sum(file_size), 0)::bigint AS file,
              max(created_at) AS last FROM nix_store_path WHERE owner_id = $1`,
      [ownerId],
    );
    return { paths: Number(row.paths), narBytes: Number(row.nar), fileBytes: Number(row.file), lastPush: row.last ? new Date(row.last) : null };
  }
}

function encodeCursor(key: string | number, id: number): string {
  return Buffer.from(JSON.stringify([key, id])).toString('base64url');
}

function decodeCursor(cursor: string | null | undefined): { key: string | number; id: number } | null {
  if (!cursor) return null;
  try {
    const [key, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [string | number, number];
    if ((typeof key !== 'string' && typeof key !== 'number') || !isRowId(id)) return null;
    // A tampered key must still fit its column: text PostgreSQL can hold, a bigint size.
    if (typeof key === 'string' ? textProblem(key) !== null : !Number.isSafeInteger(key)) return null;
    return { key, id };
  } catch {
    return null;
  }
}
