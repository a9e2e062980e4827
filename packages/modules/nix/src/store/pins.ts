import type { DataSource, EntityManager } from 'typeorm';
import { queryRows } from '@forge/core';

type Queryable = Pick<DataSource | EntityManager, 'query'>;

/** A named root of a cache: garbage collection never takes the path or its closure. */
export interface PinRecord {
  id: number;
  ownerId: number;
  name: string;
  hashPart: string;
  /** The pinned path's base name (`<hash>-<name>`). */
  storePath: string;
  createdAt: Date;
  updatedAt: Date;
}

export interface PinHistoryEntry {
  storePath: string;
  pinnedBy: number | null;
  pinnedAt: Date;
}

function toPin(r: Record<string, unknown>): PinRecord {
  return {
    id: Number(r.id),
    ownerId: Number(r.owner_id),
    name: String(r.name),
    hashPart: String(r.hash_part),
    storePath: String(r.store_path),
    createdAt: new Date(r.created_at as string),
    updatedAt: new Date(r.updated_at as string),
  };
}

/** Most pins one cache lists at once (a cache pins its releases: tens, not thousands). */
export const PINS_LISTED = 1000;

/** Entries of a pin's history kept in answers (the newest). */
export const PIN_HISTORY_SHOWN = 50;

/**
 * `nix_pin` and `nix_pin_history`. Writes run inside a registry write that holds the pinned
 * path's row FOR SHARE (StorePathWrites.presentForShare), so a collection deleting that path
 * (which takes it FOR UPDATE) and a pin never pass each other.
 */
export class Pins {
  constructor(private readonly db: Queryable) {}

  async list(ownerId: number): Promise<PinRecord[]> {
    const rows = await this.db.query(`SELECT * FROM nix_pin WHERE owner_id = $1 ORDER BY name LIMIT ${PINS_LISTED}`, [ownerId]);
    return rows.map(toPin);
  }

  async get(ownerId: number, name: string): Promise<PinRecord | null> {
    const [row] = await this.db.query(`SELECT * FROM nix_pin WHERE owner_id = $1 AND name = $2`, [ownerId, name]);
    return row ? toPin(row) : null;
  }

  /** Pins naming any of `hashParts`: hash part → pin names. */
  async pinning(ownerId: number, hashParts: readonly string[]): Promise<Map<string, string[]>> {
    const result = new Map<string, string[]>();
    if (hashParts.length === 0) return result;
    const rows: Array<{ hash_part: string; name: string }> = await this.db.query(
      `SELECT hash_part, name FROM nix_pin WHERE owner_id = $1 AND hash_part = ANY($2::char(32)[]) ORDER BY name`,
      [ownerId, [...hashParts]],
    );
    for (const r of rows) result.set(r.hash_part, [...(result.get(r.hash_part) ?? []), r.name]);
    return result;
  }

  /** Every pinned hash part of a cache (for planning a collection). */
  async pinnedHashParts(ownerId: number): Promise<Set<string>> {
    const rows: Array<{ hash_part: string }> = await this.db.query(`SELECT DISTINCT hash_part FROM nix_pin WHERE owner_id = $1`, [ownerId]);
    return new Set(rows.map((r) => r.hash_part));
  }

  /**
   * Creates the pin or moves it to another path; the history gains an entry when the path
   * changes (or the pin is new). Answers the pin and whether it was created.
   */
  async put(ownerId: number, name: string, hashPart: string, storePath: string, by: number | null): Promise<{ pin: PinRecord; created: boolean; moved: boolean }> {
    const [old] = await this.db.query(`SELECT hash_part FROM nix_pin WHERE owner_id = $1 AND name = $2 FOR UPDATE`, [ownerId, name]);
    const [row] = await this.db.query(
      `INSERT INTO nix_pin (owner_id, name, hash_part, store_path) VALUES ($1, $2, $3, $4)
       ON CONFLICT (owner_id, name) DO UPDATE SET hash_part = EXCLUDED.hash_part, store_path = EXCLUDED.store_path, updated_at = now()
       RETURNING *`,
      [ownerId, name, hashPart, storePath],
    );
    const moved = !old || String(old.hash_part) !== hashPart;
    if (moved) await this.db.query(`INSERT INTO nix_pin_history (pin_id, store_path, pinned_by) VALUES ($1, $2, $3)`, [row.id, storePath, by]);
    return { pin: toPin(row), created: !old, moved };
  }

  async delete(ownerId: number, name: string): Promise<boolean> {
    // queryRows: TypeORM answers a DELETE with [rows, count].
    const rows = await queryRows(this.db, `DELETE FROM nix_pin WHERE owner_id = $1 AND name = $2 RETURNING id`, [ownerId, name]);
    return rows.length > 0;
  }

  /** The store paths a pin named, newest first. */
  async history(pinId: number): Promise<PinHistoryEntry[]> {
    const rows: Array<Record<string, unknown>> = await this.db.query(
      `SELECT store_path, pinned_by, pinned_at FROM nix_pin_history WHERE pin_id = $1 ORDER BY id DESC LIMIT ${PIN_HISTORY_SHOWN}`,
      [pinId],
    );
    return rows.map((r) => ({ storePath: String(r.store_path), pinnedBy: r.pinned_by === null ? null : Number(r.pinned_by), pinnedAt: new Date(r.pinned_at as string) }));
  }
}
