import type { DataSource, EntityManager } from 'typeorm';
import { BadRequestError, ConflictError, isRowId, Memo, NotFoundError, validateText, type KeyService, type NewKeyPair, type StoredKey } from '@forge/core';
import { isUniqueViolation, OwnerKeyEntity, type OwnerKeyRow } from '@forge/db';
import type { SecretBox } from './secret-box.js';

/**
 * Owner key pairs in the `owner_key` table, secrets sealed with the server secret.
 * Creation and rotation take a transaction-scoped advisory lock per (owner, purpose), so
 * concurrent first uploads create exactly one key (Gitea creates its per-owner signing
 * keys lazily under a lock the same way); the partial unique index on active keys is the
 * backstop across processes.
 */
/** How long an active key is remembered; rotations elsewhere arrive as change notices (forget). */
const ACTIVE_KEY_TTL_MS = 300_000;

export class OwnerKeyService implements KeyService {
  /** Active keys by owner and purpose (decrypted once, not on every signature). */
  readonly #active = new Memo<string, StoredKey>({ name: 'owner_keys', maxEntries: 10_000, ttlMs: ACTIVE_KEY_TTL_MS });
  readonly #listeners: Array<(ownerId: number, purpose: string) => void> = [];

  constructor(
    private readonly ds: DataSource,
    private readonly box: SecretBox,
  ) {}

  private toKey(row: OwnerKeyRow): StoredKey {
    return {
      id: row.id,
      ownerId: row.ownerId,
      purpose: row.purpose,
      name: row.name,
      publicKey: row.publicKey,
      secretKey: this.box.open(row.secretKeyEnc),
      active: row.active,
      createdAt: row.createdAt,
      retiredAt: row.retiredAt,
    };
  }

  async getActive(ownerId: number, purpose: string): Promise<StoredKey | null> {
    const memoKey = `${ownerId}:${purpose}`;
    const remembered = this.#active.get(memoKey);
    if (remembered) return remembered;
    const epoch = this.#active.epoch();
    const row = await this.ds.getRepository(OwnerKeyEntity).findOneBy({ ownerId, purpose, active: true });
    if (!row) return null;
    const key = this.toKey(row);
    this.#active.set(memoKey, key, epoch);
    return key;
  }

  async getOrCreateActive(ownerId: number, purpose: string, generate: () => Promise<NewKeyPair> | NewKeyPair): Promise<StoredKey> {
    const existing = await this.getActive(ownerId, purpose);
    if (existing) return existing;
    return this.locked(ownerId, purpose, async (m) => {
      const row = await m.getRepository(OwnerKeyEntity).findOneBy({ ownerId, purpose, active: true });
      if (row) return this.toKey(row);
      return this.insertActive(m, ownerId, purpose, await generate());
    });
  }

  async list(ownerId: number, purpose: string): Promise<StoredKey[]> {
    const rows = await this.ds.getRepository(OwnerKeyEntity).find({ where: { ownerId, purpose }, order: { active: 'DESC', id: 'DESC' } });
    return rows.map((r) => this.toKey(r));
  }

  async activate(ownerId: number, purpose: string, key: NewKeyPair): Promise<StoredKey> {
    if (!key.name || !key.publicKey || !key.secretKey) throw new BadRequestError('a key needs a name, a public key and a secret key');
    validateText(key.name, 'the key name', 255);
    return this.locked(ownerId, purpose, async (m) => {
      const repo = m.getRepository(OwnerKeyEntity);
      const clash = await repo.findOneBy({ ownerId, purpose, name: key.name });
      if (clash) throw new ConflictError(`a key named "${key.name}" exists already; key names must be unique so clients can tell them apart`);
      await repo.update({ ownerId, purpose, active: true }, { active: false, retiredAt: new Date() });
      return this.insertActive(m, ownerId, purpose, key);
    });
  }

  async drop(ownerId: number, purpose: string, keyId: number): Promise<void> {
    if (!isRowId(keyId)) throw new NotFoundError('key not found');
    const repo = this.ds.getRepository(OwnerKeyEntity);
    const row = await repo.findOneBy({ id: keyId, ownerId, purpose });
    if (!row) throw new NotFoundError('key not found');
    if (row.active) throw new BadRequestError('the active key cannot be dropped; rotate first');
    await repo.delete({ id: keyId });
    this.changed(ownerId, purpose);
  }

  /** Called after a key was created, rotated, imported or dropped. */
  onChange(listener: (ownerId: number, purpose: string) => void): void {
    this.#listeners.push(listener);
  }

  private changed(ownerId: number, purpose: string): void {
    this.#active.forget(`${ownerId}:${purpose}`);
    for (const l of this.#listeners) l(ownerId, purpose);
  }

  private async insertActive(m: EntityManager, ownerId: number, purpose: string, key: NewKeyPair): Promise<StoredKey> {
    try {
      const row = await m.getRepository(OwnerKeyEntity).save({
        ownerId,
        purpose,
        name: key.name,
        publicKey: key.publicKey,
        secretKeyEnc: this.box.seal(key.secretKey),
        active: true,
        retiredAt: null,
      });
      return this.toKey(row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError('another process changed the active key at the same time; retry');
      throw err;
    }
  }

  private async locked<T>(ownerId: number, purpose: string, work: (m: EntityManager) => Promise<T>): Promise<T> {
    const result = await this.ds.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`owner_key:${ownerId}:${purpose}`]);
      return work(m);
    });
    this.changed(ownerId, purpose);
    return result;
  }

  /** Forgets the remembered active keys (a change notice: keys changed in another process). */
  forget(): void {
    this.#active.clear();
  }
}
