import type { DataSource } from 'typeorm';
import { BadRequestError, Memo, type Visibility } from '@forge/core';

export type CacheVisibility = 'inherit' | Visibility;

export interface CacheSettings {
  ownerId: number;
  priority: number;
  visibility: CacheVisibility;
  wantMassQuery: boolean;
  /** Paths unused this long are garbage unless something live needs them; null = kept forever. */
  retentionMs: number | null;
  /** Most bytes of NAR files the cache keeps (least recently used roots go first); null = no limit. */
  maxSize: number | null;
  createdAt: Date;
}

/** Changes to a cache's settings; `null` clears retention or the size limit. */
export interface CacheSettingsChanges {
  priority?: number;
  visibility?: CacheVisibility;
  wantMassQuery?: boolean;
  retentionMs?: number | null;
  maxSize?: number | null;
}

/** Default priority: after a local store (0) and before nothing in particular; cache.nixos.org is 40. */
export const DEFAULT_PRIORITY = 41;

/** How long settings are remembered; changes elsewhere arrive as change notices (forget). */
const TTL_MS = 60_000;

/**
 * Per-owner cache settings (`nix_cache`). A cache exists once enabled (in settings, by the
 * API, or by its first push). Reads are memoised: every narinfo request needs them.
 */
export class CacheSettingsStore {
  /** Settings by owner (null: no cache), dropped by change notices. */
  readonly #memo = new Memo<number, CacheSettings | null>({ name: 'nix_cache_settings', maxEntries: 10_000, ttlMs: TTL_MS });

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

  get(ownerId: number): Promise<CacheSettings | null> {
    return this.#memo.load(ownerId, async () => {
      const [row] = await this.ds.query(`SELECT * FROM nix_cache WHERE owner_id = $1`, [ownerId]);
      return row ? toSettings(row) : null;
    });
  }

  /** Enables the cache if needed; returns its settings and whether this call created it. */
  async enable(ownerId: number): Promise<{ settings: CacheSettings; created: boolean }> {
    const inserted = await this.ds.query(
      `INSERT INTO nix_cache (owner_id, priority) VALUES ($1, $2) ON CONFLICT (owner_id) DO NOTHING RETURNING *`,
      [ownerId, DEFAULT_PRIORITY],
    );
    if (inserted.length > 0) {
      this.changed(ownerId);
      return { settings: toSettings(inserted[0]), created: true };
    }
    return { settings: (await this.get(ownerId))!, created: false };
  }

  async update(ownerId: number, changes: CacheSettingsChanges): Promise<CacheSettings> {
    if (changes.priority !== undefined && (!Number.isInteger(changes.priority) || changes.priority < 0 || changes.priority > 1000)) {
      throw new BadRequestError('priority must be an integer from 0 to 1000 (lower is tried first; cache.nixos.org is 40)');
    }
    if (changes.visibility !== undefined && !['inherit', 'public', 'private'].includes(changes.visibility)) {
      throw new BadRequestError('visibility must be inherit, public or private');
    }
    for (const [name, value] of [['retention', changes.retentionMs], ['maxSize', changes.maxSize]] as const) {
      if (value !== undefined && value !== null && !(Number.isSafeInteger(value) && value >= 0)) {
        throw new BadRequestError(`${name} must be a non-negative whole number`);
      }
    }
    await this.enable(ownerId);
    await this.ds.query(
      `UPDATE nix_cache SET priority = coalesce($2, priority), visibility = coalesce($3, visibility),
         want_mass_query = coalesce($4, want_mass_query),
         retention_ms = CASE WHEN $5 THEN $6::bigint ELSE retention_ms END,
         max_size = CASE WHEN $7 THEN $8::bigint ELSE max_size END
       WHERE owner_id = $1`,
      [
        ownerId,
        changes.priority ?? null,
        changes.visibility ?? null,
        changes.wantMassQuery ?? null,
        changes.retentionMs !== undefined,
        changes.retentionMs || null,
        changes.maxSize !== undefined,
        changes.maxSize ?? null,
      ],
    );
    this.changed(ownerId);
    return (await this.get(ownerId))!;
  }
}

function toSettings(r: Record<string, unknown>): CacheSettings {
  return {
    ownerId: Number(r.owner_id),
    priority: Number(r.priority),
    visibility: r.visibility as CacheVisibility,
    wantMassQuery: Boolean(r.want_mass_query),
    retentionMs: r.retention_ms === null || r.retention_ms === undefined ? null : Number(r.retention_ms),
    maxSize: r.max_size === null || r.max_size === undefined ? null : Number(r.max_size),
    createdAt: new Date(r.created_at as string),
  };
}
