import type { DataSource, EntityManager } from 'typeorm';
import { NIX } from '../constants.js';
import type { NewStorePath } from './store-paths.js';

type Queryable = Pick<DataSource | EntityManager, 'query'>;

/**
 * The statements that change `nix_store_path`, `nix_reference` and `nix_path_signature`,
 * run inside one registry write (`tx.manager`). Every statement says which lock it takes
 * and why: a narinfo upload and a deletion of the same path, or of a path it references,
 * may run at the same time in different processes.
 */
export class StorePathWrites {
  constructor(private readonly db: Queryable) {}

  /**
   * Serialises the writers of one store path (narinfo uploads, deletions) until COMMIT. Taken
   * before any row of the path is touched and after the FOR SHARE locks on its references;
   * deletions follow the same order (a path, then its referrers), so an upload and a deletion
   * never wait for each other in a circle (PostgreSQL would abort one with "deadlock detected").
   */
  async lockPath(ownerId: number, hashPart: string): Promise<void> {
    await this.db.query(`SELECT pg_advisory_xact_lock(hashtext('nix_store_path'), hashtext($1))`, [`${ownerId}:${hashPart}`]);
  }

  /**
   * The names of those of `hashParts` the owner's cache holds, with their rows locked FOR
   * SHARE until COMMIT, so a concurrent deletion cannot leave a narinfo that references
   * them pointing at paths that are gone.
   */
  async presentForShare(ownerId: number, hashParts: readonly string[]): Promise<Map<string, string>> {
    if (hashParts.length === 0) return new Map();
    const rows: Array<{ hash_part: string; name: string }> = await this.db.query(
      `SELECT hash_part, name FROM nix_store_path WHERE owner_id = $1 AND hash_part = ANY($2::char(32)[]) FOR SHARE`,
      [ownerId, hashParts],
    );
    return new Map(rows.map((r) => [r.hash_part, r.name]));
  }

  /**
   * Whether the owner file `key` (a NAR about to be attached to a path) still exists, its row
   * locked until COMMIT: a collection removing it as an orphan upload locks it FOR
   * UPDATE first, so either it went before (and this says so) or it waits for this commit
   * and then sees the path that uses it. FOR KEY SHARE, the weakest lock that a DELETE or
   * FOR UPDATE waits for: a concurrent upload of the same NAR rewrites the row (FOR NO KEY
   * UPDATE) without waiting, which matters because that upload holds the blob row this
   * publish is about to reference (the opposite order would deadlock).
   */
  async ownerFileForShare(ownerId: number, key: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT id FROM package_owner_file WHERE owner_id = $1 AND type = $2 AND key = $3 FOR KEY SHARE`, [ownerId, NIX, key]);
    return rows.length > 0;
  }

  /** Locks a path's row against concurrent writers (a deletion holds it until COMMIT). */
  async lockRow(pathId: number): Promise<void> {
    await this.db.query(`SELECT id FROM nix_store_path WHERE id = $1 FOR UPDATE`, [pathId]);
  }

  /**
   * Inserts the path or replaces the row of the same hash part, reading the row it replaces
   * in the same statement (the caller holds the path's lock). `inserted` tells which.
   */
  async upsert(path: NewStorePath): Promise<{ id: number; inserted: boolean; replacedVersionId: number | null }> {
    const [row] = await this.db.query(
      `WITH old AS (SELECT version_id FROM nix_store_path WHERE owner_id = $1 AND hash_part = $2)
       INSERT INTO nix_store_path (owner_id, hash_part, name, version_id, url, compression, file_hash, file_size, nar_hash, nar_size,
         nar_blob_id, deriver, system, ca, refs, sigs, token_name, pulled_from)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
       ON CONFLICT (owner_id, hash_part) DO UPDATE SET name = EXCLUDED.name, version_id = EXCLUDED.version_id, url = EXCLUDED.url,
         compression = EXCLUDED.compression, file_hash = EXCLUDED.file_hash, file_size = EXCLUDED.file_size,
         nar_hash = EXCLUDED.nar_hash, nar_size = EXCLUDED.nar_size, nar_blob_id = EXCLUDED.nar_blob_id, deriver = EXCLUDED.deriver,
         system = EXCLUDED.system, ca = EXCLUDED.ca, refs = EXCLUDED.refs, sigs = EXCLUDED.sigs,
         last_accessed_at = now(),
         token_name = EXCLUDED.token_name, pulled_from = EXCLUDED.pulled_from
       RETURNING id, (xmax = 0) AS inserted, (SELECT version_id FROM old) AS old_version_id`,
      [
        path.ownerId,
        path.hashPart,
        path.name,
        path.versionId,
        path.url,
        path.compression,
        path.fileHash,
        path.fileSize,
        path.narHash,
        path.narSize,
        path.narBlobId,
        path.deriver,
        path.system,
        path.ca,
        path.references.join(' '),
        path.sigs.join('\n'),
        path.tokenName,
        path.pulledFrom,
      ],
    );
    return {
      id: Number(row.id),
      inserted: Boolean(row.inserted),
      replacedVersionId: row.old_version_id === null ? null : Number(row.old_version_id),
    };
  }

  /** The path's references (hash parts, its own included when it references itself). */
  async replaceReferences(pathId: number, ownerId: number, refHashes: readonly string[], isNew: boolean): Promise<void> {
    // A new row has no references to replace.
    if (!isNew) await this.db.query(`DELETE FROM nix_reference WHERE path_id = $1`, [pathId]);
    if (refHashes.length === 0) return;
    await this.db.query(`INSERT INTO nix_reference (path_id, owner_id, ref_hash) SELECT $1, $2, unnest($3::char(32)[])`, [pathId, ownerId, refHashes]);
  }

  /**
   * The server's signatures of the path: `active` by the key that signs now, and `kept`
   * ones by other server keys that came back with the upload.
   */
  async replaceServerSignatures(
    pathId: number,
    active: { keyId: number; sig: string },
    kept: ReadonlyArray<{ keyId: number; sig: string }>,
    isNew: boolean,
  ): Promise<void> {
    if (!isNew) await this.db.query(`DELETE FROM nix_path_signature WHERE path_id = $1`, [pathId]);
    await this.db.query(`INSERT INTO nix_path_signature (path_id, key_id, sig) VALUES ($1, $2, $3)`, [pathId, active.keyId, active.sig]);
    for (const own of kept) {
      await this.db.query(`INSERT INTO nix_path_signature (path_id, key_id, sig) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [pathId, own.keyId, own.sig]);
    }
  }
}
