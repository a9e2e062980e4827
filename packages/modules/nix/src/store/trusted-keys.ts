import type { DataSource } from 'typeorm';
import { ConflictError, isUniqueViolation, NotFoundError, queryRows } from '@forge/core';
import { formatPublicKey, parsePublicKey, type PublicKey } from '../format/index.js';

/**
 * Uploader keys an owner trusts: signatures by these keys on uploaded narinfos must
 * verify, or the upload is refused (a bad signature under a name clients trust would
 * make Nix reject the path).
 */
export class TrustedKeys {
  readonly #memo = new Map<number, { keys: PublicKey[]; until: number }>();

  constructor(
    private readonly ds: DataSource,
    private readonly changed: (ownerId: number) => void = () => {},
  ) {}

  forget(ownerId: number): void {
    this.#memo.delete(ownerId);
  }

  clear(): void {
    this.#memo.clear();
  }

  async list(ownerId: number): Promise<PublicKey[]> {
    const hit = this.#memo.get(ownerId);
    if (hit && hit.until > Date.now()) return hit.keys;
    const rows: Array<{ public_key: string }> = await this.ds.query(
      `SELECT public_key FROM nix_trusted_key WHERE owner_id = $1 ORDER BY name`,
      [ownerId],
    );
    const keys = rows.map((r) => parsePublicKey(r.public_key));
    this.#memo.set(ownerId, { keys, until: Date.now() + 60_000 });
    return keys;
  }

  async add(ownerId: number, key: PublicKey): Promise<void> {
    try {
      await this.ds.query(`INSERT INTO nix_trusted_key (owner_id, name, public_key) VALUES ($1, $2, $3)`, [ownerId, key.name, formatPublicKey(key)]);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`a trusted key named "${key.name}" exists already`);
      throw err;
    }
    this.changed(ownerId);
  }

  async remove(ownerId: number, name: string): Promise<void> {
    const rows = await queryRows(this.ds, `DELETE FROM nix_trusted_key WHERE owner_id = $1 AND name = $2 RETURNING id`, [ownerId, name]);
    this.changed(ownerId);
    if (rows.length === 0) throw new NotFoundError(`no trusted key named "${name}"`);
  }
}
