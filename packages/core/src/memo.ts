import { LRUCache } from 'lru-cache';

/** What a {@link Memo} may hold, and for how long. */
export interface MemoOptions<K, V> {
  /** Most entries kept; the least recently used go first. */
  maxEntries: number;
  /**
   * Most bytes kept, as {@link sizeOf} counts them; the least recently used go first.
   * Default: `maxEntries` entries of {@link MEMO_ENTRY_BYTES}.
   */
  maxBytes?: number;
  /** Largest single entry kept (a larger one is simply not remembered). Default: `maxBytes`. */
  maxEntryBytes?: number;
  /**
   * How long an entry may be served. Change notices drop entries much sooner; this bounds
   * the damage of a notice that was lost.
   */
  ttlMs: number;
  /** The bytes an entry costs (its value, key and bookkeeping). Default: {@link MEMO_ENTRY_BYTES}. */
  sizeOf?: (value: V, key: K) => number;
  /**
   * Names the memo in `/metrics` (`forge_memo_lookups_total{memo="…"}`): its hits, misses
   * and size are reported, summed over the memos of that name in the process.
   */
  name?: string;
}

/** What `/metrics` reports of a memo. */
export interface MemoStats {
  name: string;
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

/**
 * Named memos alive in this process, read when metrics are scraped. A weak set: a memo of
 * a server that was closed (tests start many) is not kept alive by being counted.
 */
const namedMemos = new Set<WeakRef<Memo<string | number, unknown>>>();

/** Hits, misses and size of every named memo alive in the process, by name. */
export function memoStats(): MemoStats[] {
  const byName = new Map<string, MemoStats>();
  for (const ref of namedMemos) {
    const memo = ref.deref();
    if (!memo) {
      namedMemos.delete(ref);
      continue;
    }
    const s = memo.stats();
    const sum = byName.get(s.name);
    if (!sum) byName.set(s.name, s);
    else {
      sum.hits += s.hits;
      sum.misses += s.misses;
      sum.entries += s.entries;
      sum.bytes += s.bytes;
    }
  }
  return [...byName.values()];
}

/** What an entry of a memo of small records (owners, settings, keys) costs by default. */
export const MEMO_ENTRY_BYTES = 512;

/**
 * A bounded, time-limited memo of hot reads (owners, tokens, keys, cache settings,
 * rendered narinfos), bounded by entries and by bytes, least recently used out first
 * (`lru-cache`). Misses can be remembered too (store `null`).
 *
 * Memos are dropped by change notices (`ClusterEvents`) in every process. A read that
 * raced a change must never be stored after the change's notice, or it would outlive it:
 * every `forget…`/`clear` moves the memo's *epoch*, and an answer is stored only if the
 * epoch it was read at is still current ({@link load}, or {@link epoch} then {@link set}).
 */
export class Memo<K extends string | number, V> {
  readonly #entries: LRUCache<K, { value: V }>;
  #epoch = 0;
  readonly #name: string | undefined;
  #hits = 0;
  #misses = 0;

  constructor(options: MemoOptions<K, V>) {
    this.#name = options.name;
    if (options.name) namedMemos.add(new WeakRef(this as unknown as Memo<string | number, unknown>));
    const sizeOf = options.sizeOf ?? (() => MEMO_ENTRY_BYTES);
    const maxBytes = options.maxBytes ?? options.maxEntries * MEMO_ENTRY_BYTES;
    // Every entry counts at least maxBytes / maxEntries, so the byte bound also keeps the
    // count within maxEntries; lru-cache's own `max` would allocate all entries' slots up
    // front (megabytes per memo, whether it is ever used or not).
    const floor = Math.max(1, Math.ceil(maxBytes / options.maxEntries));
    this.#entries = new LRUCache<K, { value: V }>({
      maxSize: maxBytes,
      maxEntrySize: options.maxEntryBytes ?? maxBytes,
      sizeCalculation: (box, key) => Math.max(floor, sizeOf(box.value, key)),
      ttl: options.ttlMs,
    });
  }

  /** The remembered value, or undefined when there is none (or it expired). */
  get(key: K): V | undefined {
    const hit = this.#entries.get(key);
    if (hit) this.#hits++;
    else this.#misses++;
    return hit?.value;
  }

  /** The current epoch, to pass to {@link set} with what is read after taking it. */
  epoch(): number {
    return this.#epoch;
  }

  /**
   * Remembers `value`, read at `epoch` (see {@link epoch}), unless something was forgotten
   * meanwhile. `ttlMs` shortens the entry's life (a token that expires sooner).
   */
  set(key: K, value: V, epoch: number, ttlMs?: number): void {
    if (epoch !== this.#epoch) return;
    this.#entries.set(key, { value }, ttlMs === undefined ? undefined : { ttl: Math.max(1, ttlMs) });
  }

  /** The remembered value, or `read()`'s, which is remembered unless a change raced it. */
  async load(key: K, read: () => Promise<V>, ttlMs?: (value: V) => number | undefined): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#hits++;
      return hit.value;
    }
    this.#misses++;
    const epoch = this.#epoch;
    const value = await read();
    this.set(key, value, epoch, ttlMs?.(value));
    return value;
  }

  forget(key: K): void {
    this.#epoch++;
    this.#entries.delete(key);
  }

  /** Forgets every entry whose key matches (an owner's entries after a change to the owner). */
  forgetWhere(matches: (key: K) => boolean): void {
    this.#epoch++;
    for (const key of [...this.#entries.keys()]) if (matches(key)) this.#entries.delete(key);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }

  /** Entries held now, and the bytes they count (each at least maxBytes / maxEntries). */
  get usage(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#entries.calculatedSize };
  }

  /** Lookups answered from the memo and not, since it was made (for `/metrics`). */
  stats(): MemoStats {
    return { name: this.#name ?? '', hits: this.#hits, misses: this.#misses, ...this.usage };
  }
}
