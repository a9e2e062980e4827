/**
 * Rendered narinfos in memory, keyed by owner and hash part: a hit costs no query and no
 * signature. Entries are dropped by change notices (NixChanges) in every process the
 * moment a path is replaced or deleted or its cache's keys change, so they can live long;
 * `ttlMs` only bounds the damage of a lost notice. Misses are remembered too (as null),
 * because `nix copy` and substituters ask for many paths that are not there.
 */
export class NarInfoMemo {
  readonly #entries = new Map<string, { body: Buffer | null; pathId: number; until: number }>();
  /**
   * Bumped by every invalidation. A reader takes it before its query and stores what it read
   * only if it has not moved, so an answer read before a change can never be stored after
   * the change's notice (and then outlive it).
   */
  #epoch = 0;

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly max = 50_000,
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

  /** The current epoch, to pass to set() after reading. */
  epoch(): number {
    return this.#epoch;
  }

  /** Stores an answer read at `epoch` (see epoch()), unless something changed meanwhile. */
  set(ownerId: number, hashPart: string, body: Buffer | null, pathId: number, epoch: number): void {
    if (epoch !== this.#epoch) return;
    const key = `${ownerId}/${hashPart}`;
    this.#entries.delete(key);
    if (this.#entries.size >= this.max) {
      // Drop the oldest tenth (Map iterates in insertion order): cheap and good enough.
      let n = this.max / 10;
      for (const k of this.#entries.keys()) {
        this.#entries.delete(k);
        if (--n <= 0) break;
      }
    }
    this.#entries.set(key, { body, pathId, until: Date.now() + this.ttlMs });
  }

  invalidate(ownerId: number, hashPart: string): void {
    this.#epoch++;
    this.#entries.delete(`${ownerId}/${hashPart}`);
  }

  invalidateOwner(ownerId: number): void {
    this.#epoch++;
    const prefix = `${ownerId}/`;
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }
}
