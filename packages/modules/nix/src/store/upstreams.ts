import type { DataSource } from 'typeorm';
import { Memo } from '@forge/core';

/** Skip: upstream paths count as present and are served by redirect. Pull-through: also stored on first fetch. */
export type UpstreamMode = 'skip' | 'pull-through';

/** One upstream binary cache of an owner's cache (`nix_upstream`). */
export interface UpstreamRecord {
  id: number;
  ownerId: number;
  /** Order in the owner's list: earlier upstreams are asked first. */
  position: number;
  /** Base URL, no trailing slash (`https://cache.nixos.org`). */
  url: string;
  /** Public keys (`name:base64`) whose signatures make an upstream path trusted. */
  publicKeys: string[];
  mode: UpstreamMode;
}

export type NewUpstream = Pick<UpstreamRecord, 'url' | 'publicKeys' | 'mode'>;

/**
 * The upstream lists of owner caches. Every narinfo miss reads it, so it is memoised per
 * owner and dropped by the owner's change notices.
 */
export class UpstreamStore {
  readonly #memo = new Memo<number, UpstreamRecord[]>({ maxEntries: 10_000, ttlMs: 60_000, sizeOf: (list) => 64 + list.length * 512 });

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

  list(ownerId: number): Promise<UpstreamRecord[]> {
    return this.#memo.load(ownerId, async () => {
      const rows: Array<Record<string, unknown>> = await this.ds.query(`SELECT * FROM nix_upstream WHERE owner_id = $1 ORDER BY position, id`, [ownerId]);
      return rows.map(toUpstream);
    });
  }

  /**
   * Replaces the owner's list (already validated). An upstream whose URL stays keeps its id,
   * so the NAR URLs clients hold in their narinfo caches (`upstream/<id>/…`) keep working.
   */
  async replace(ownerId: number, upstreams: readonly NewUpstream[]): Promise<void> {
    await this.ds.transaction(async (tx) => {
      const urls = upstreams.map((u) => u.url);
      await tx.query(`DELETE FROM nix_upstream WHERE owner_id = $1 AND NOT (url = ANY($2::varchar[]))`, [ownerId, urls]);
      for (const [position, u] of upstreams.entries()) {
        await tx.query(
          `INSERT INTO nix_upstream (owner_id, position, url, public_keys, mode) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (owner_id, url) DO UPDATE SET position = EXCLUDED.position, public_keys = EXCLUDED.public_keys, mode = EXCLUDED.mode`,
          [ownerId, position, u.url, u.publicKeys.join(' '), u.mode],
        );
      }
    });
    this.changed(ownerId);
  }
}

function toUpstream(r: Record<string, unknown>): UpstreamRecord {
  const keys = String(r.public_keys ?? '');
  return {
    id: Number(r.id),
    ownerId: Number(r.owner_id),
    position: Number(r.position),
    url: String(r.url),
    publicKeys: keys ? keys.split(' ') : [],
    mode: r.mode as UpstreamMode,
  };
}
