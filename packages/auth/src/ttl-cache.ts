/**
 * A small time-bounded memo for hot read paths (owner lookups on every narinfo request).
 * Entries live `ttlMs`; the map is cleared wholesale when it grows past `max`, which keeps
 * it O(1) without an LRU list. Local writes call `clear()`; other processes see changes
 * within `ttlMs`.
 */
export class TtlCache<K, V> {
  readonly #entries = new Map<K, { value: V; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly max = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: K, load: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    const now = this.now();
    if (hit && hit.until > now) return hit.value;
    const value = await load();
    if (this.#entries.size >= this.max) this.#entries.clear();
    this.#entries.set(key, { value, until: now + this.ttlMs });
    return value;
  }

  clear(): void {
    this.#entries.clear();
  }
}
