import type { DataSource, EntityManager } from 'typeorm';
import { NIX } from '../constants.js';

type Queryable = Pick<DataSource | EntityManager, 'query'>;

/** A store path as a collection plans with it. */
export interface PathForCollection {
  hashPart: string;
  name: string;
  /** Hash parts of its references (its own included when it references itself). */
  references: string[];
  /** Last push or read: `last_accessed_at`, which a push sets too. */
  lastUsed: Date;
  fileSize: number;
  narSize: number;
}

/** A file uploaded ahead of its narinfo that no store path of the cache uses. */
export interface OrphanUpload {
  id: number;
  key: string;
  size: number;
  /** NarSize from the NAR's facts (NARs only). */
  narSize: number | null;
  createdAt: Date;
}

/**
 * What garbage collection reads and locks, beyond the path writes it shares with deletion
 * (StorePathWrites). Every query is per owner and indexed on (owner_id, …).
 */
export class CollectionQueries {
  constructor(private readonly db: Queryable) {}

  /** Owners whose cache exists, in id order. */
  async caches(): Promise<number[]> {
    const rows: Array<{ owner_id: number }> = await this.db.query(`SELECT owner_id FROM nix_cache ORDER BY owner_id`);
    return rows.map((r) => Number(r.owner_id));
  }

  /**
   * Every path of a cache with what liveness needs. The references come from the path's
   * own `refs` column (base names, whose first 32 characters are the hash part), one row per
   * path: no join over `nix_reference`.
   */
  async paths(ownerId: number): Promise<PathForCollection[]> {
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT hash_part, name, refs, greatest(created_at, last_accessed_at) AS last_used, file_size, nar_size
       FROM nix_store_path WHERE owner_id = $1`,
      [ownerId],
    );
    return rows.map((r) => ({
      hashPart: String(r.hash_part),
      name: String(r.name),
      references: String(r.refs ?? '') ? String(r.refs).split(' ').map((base) => base.slice(0, 32)) : [],
      lastUsed: new Date(r.last_used as string),
      fileSize: Number(r.file_size),
      narSize: Number(r.nar_size),
    }));
  }

  /**
   * NARs, listings and build logs that no store path of the cache uses, uploaded more than
   * `graceMs` ago: a NAR whose narinfo never came (`nar/F` that no path's URL names), its
   * listing (`ls/F`), a log of a derivation no path names as Deriver (`log/D`).
   */
  async orphanUploads(ownerId: number, graceMs: number, limit: number): Promise<OrphanUpload[]> {
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT o.id, o.key, b.size, o.properties, o.created_at FROM package_owner_file o JOIN package_blob b ON b.id = o.blob_id
       WHERE o.owner_id = $1 AND o.type = $2 AND o.created_at < now() - make_interval(secs => $3)
         AND ${ORPHAN_CONDITION}
       ORDER BY o.created_at, o.id LIMIT $4`,
      [ownerId, NIX, graceMs / 1000, limit],
    );
    return rows.map((r) => {
      const properties = (typeof r.properties === 'string' ? JSON.parse(r.properties) : r.properties) as { narSize?: number } | null;
      const key = String(r.key);
      return {
        id: Number(r.id),
        key,
        size: Number(r.size),
        narSize: key.startsWith('nar/') && typeof properties?.narSize === 'number' ? properties.narSize : null,
        createdAt: new Date(r.created_at as string),
      };
    });
  }

  /**
   * Locks an owner file against a narinfo being published with it (which reads it FOR
   * SHARE, lockOwnerFileForShare), then checks afresh, in a statement of its own (so it sees
   * what such a publish committed while we waited), that it is still an orphan.
   */
  async lockOrphan(ownerId: number, id: number): Promise<boolean> {
    const locked = await this.db.query(`SELECT id FROM package_owner_file WHERE id = $1 AND owner_id = $2 FOR UPDATE`, [id, ownerId]);
    if (locked.length === 0) return false;
    const [row] = await this.db.query(`SELECT 1 AS orphan FROM package_owner_file o WHERE o.owner_id = $1 AND o.id = $2 AND ${ORPHAN_CONDITION}`, [ownerId, id]);
    return Boolean(row);
  }

  /** Pairs (referenced hash part, referrer hash part) for references to `hashParts` by other paths. */
  async referrersOf(ownerId: number, hashParts: readonly string[]): Promise<Array<{ hashPart: string; referrer: string }>> {
    if (hashParts.length === 0) return [];
    const rows: Array<{ ref_hash: string; hash_part: string }> = await this.db.query(
      `SELECT r.ref_hash, p.hash_part FROM nix_reference r JOIN nix_store_path p ON p.id = r.path_id
       WHERE r.owner_id = $1 AND r.ref_hash = ANY($2::char(32)[]) AND p.hash_part <> r.ref_hash`,
      [ownerId, [...hashParts]],
    );
    return rows.map((r) => ({ hashPart: r.ref_hash, referrer: r.hash_part }));
  }
}

/** The owner file `o` is a NAR, listing or log that no store path of its owner uses ($1 = owner). */
const ORPHAN_CONDITION = `(
  (o.key LIKE 'nar/%' AND NOT EXISTS (SELECT 1 FROM nix_store_path p WHERE p.owner_id = $1 AND p.url = o.key))
  OR (o.key LIKE 'ls/%' AND NOT EXISTS (SELECT 1 FROM nix_store_path p WHERE p.owner_id = $1 AND p.url = 'nar/' || substr(o.key, 4)))
  OR (o.key LIKE 'log/%' AND NOT EXISTS (SELECT 1 FROM nix_store_path p WHERE p.owner_id = $1 AND p.deriver = substr(o.key, 5))))`;
