import type { DataSource } from 'typeorm';
import { ConflictError, isUniqueViolation, Memo, NotFoundError, queryRows } from '@forge/core';
import { formatPublicKey, parsePublicKey, type PublicKey } from '../format/index.js';

/**
 * Uploader keys an owner trusts: signatures by these keys on uploaded narinfos must
 * verify, or the upload is refused (a bad signature under a name clients trust would
 * make Nix reject the path).
 */
export class TrustedKeys {
  /** Trusted keys by owner, parsed, dropped by change notices. */
  readonly #memo = new Memo<number, PublicKey[]>({ name: 'nix_trusted_keys', maxEntries: 10_000, ttlMs: 60_000, sizeOf: (keys) => 64 + keys.length * 256 });

  constructor(
    private readonly ds: DataSource,
    private readonly changed: (ownerId: number) => void = () => {},
  ) {}

  forget(ownerId: number): void {
    this.#memo.forget(ownerId);
  }

  clear(): void {
    this.#memo.clear();
  }

  list(ownerId: number): Promise<PublicKey[]> {
    return this.#memo.load(ownerId, async () => {
      const rows: Array<{ public_key: string }> = await this.ds.query(`SELECT public_key FROM nix_trusted_key WHERE owner_id = $1 ORDER BY name`, [ownerId]);
      return rows.map((r) => parsePublicKey(r.public_key));
    });
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
