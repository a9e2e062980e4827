/**
 * Rendered narinfos in memory, keyed by owner and hash part: a hit costs no query and no
 * signature. Entries expire after `ttlMs` so writes in other processes show within that
 * time; writes in this process invalidate at once. Misses are remembered too (as null),
 * because `nix copy` and substituters ask for many paths that are not there.
 */
export class NarInfoCache {
  readonly #entries = new Map<string, { body: Buffer | null; pathId: number; until: number }>();

  constructor(
    private readonly ttlMs = 5_000,
    private readonly max = 100_000,
  ) {}

  get(ownerId: number, hashPart: string): { body: Buffer | null; pathId: number } | undefined {
    const key = `${ownerId}/${hashPart}`;
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= Date.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return hit;
  }

  set(ownerId: number, hashPart: string, body: Buffer | null, pathId = 0): void {
    if (this.#entries.size >= this.max) {
      // Drop the oldest tenth (Map iterates in insertion order): cheap and good enough.
      let n = this.max / 10;
      for (const k of this.#entries.keys()) {
        this.#entries.delete(k);
        if (--n <= 0) break;
      }
    }
    this.#entries.set(`${ownerId}/${hashPart}`, { body, pathId, until: Date.now() + this.ttlMs });
  }

  invalidate(ownerId: number, hashPart: string): void {
    this.#entries.delete(`${ownerId}/${hashPart}`);
  }

  invalidateOwner(ownerId: number): void {
    const prefix = `${ownerId}/`;
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
  }
}
