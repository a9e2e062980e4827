import { isForeignKeyViolation } from '@forge/core';
import type { DataSource } from 'typeorm';

/** A signature the server made for a path with one of its keys (`nix_path_signature`). */
export interface ServerSignature {
  keyId: number;
  sig: string;
}

/** The server's signatures of store paths, outside the write that stores a path. */
export class PathSignatures {
  constructor(private readonly ds: Pick<DataSource, 'query'>) {}

  async ofPath(pathId: number): Promise<ServerSignature[]> {
    const rows: Array<{ key_id: number; sig: string }> = await this.ds.query(`SELECT key_id, sig FROM nix_path_signature WHERE path_id = $1`, [pathId]);
    return rows.map((r) => ({ keyId: Number(r.key_id), sig: r.sig }));
  }

  /**
   * Keeps a signature made when the path was read (by a key that became active after the
   * path was stored). Keeping it is an optimisation: if the path was deleted (or the key
   * dropped) meanwhile, the foreign key refuses the row and nothing is kept.
   */
  async keep(pathId: number, signature: ServerSignature): Promise<void> {
    await this.ds
      .query(`INSERT INTO nix_path_signature (path_id, key_id, sig) VALUES ($1, $2, $3) ON CONFLICT (path_id, key_id) DO NOTHING`, [
        pathId,
        signature.keyId,
        signature.sig,
      ])
      .catch((err: unknown) => {
        if (!isForeignKeyViolation(err)) throw err;
      });
  }
}
