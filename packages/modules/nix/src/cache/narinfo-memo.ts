import { Memo } from '@forge/core';

/** Most bytes of rendered narinfos one server process keeps (docs/security.md). */
export const NARINFO_MEMO_BYTES = 64 * 1024 * 1024;
/** Most narinfos (and remembered misses) one server process keeps. */
export const NARINFO_MEMO_ENTRIES = 50_000;
/** A larger narinfo (thousands of references or signatures) is served, but not remembered. */
export const NARINFO_MEMO_ENTRY_BYTES = 1024 * 1024;
/**
 * How long an answer may be served from memory. Change notices drop it in every process
 * the moment its path is replaced or deleted or its cache's keys change; this only bounds
 * the damage of a lost notice.
 */
const NARINFO_MEMO_TTL_MS = 10 * 60_000;

/** A narinfo as rendered (null: the cache does not have the path), and its path's id. */
export interface MemoisedNarInfo {
  body: Buffer | null;
  pathId: number;
}

/**
 * Rendered narinfos in memory, keyed by owner and hash part: a hit costs no query and no
 * signature. Misses are remembered too, because `nix copy` and substituters ask for many
 * paths that are not there. Bounded by entries and by bytes; an answer read while a
 * change notice arrived is not stored (the memo's epoch, see `Memo`).
 */
export class NarInfoMemo {
  readonly #memo: Memo<string, MemoisedNarInfo>;

  constructor(limits: { maxBytes?: number; maxEntries?: number } = {}) {
    this.#memo = new Memo<string, MemoisedNarInfo>({
      name: 'nix_narinfos',
      maxEntries: limits.maxEntries ?? NARINFO_MEMO_ENTRIES,
      maxBytes: limits.maxBytes ?? NARINFO_MEMO_BYTES,
      maxEntryBytes: Math.min(NARINFO_MEMO_ENTRY_BYTES, limits.maxBytes ?? NARINFO_MEMO_BYTES),
      ttlMs: NARINFO_MEMO_TTL_MS,
      // The body, the key and the entry's bookkeeping.
      sizeOf: (entry, key) => (entry.body?.length ?? 0) + key.length + 64,
    });
  }

  get(ownerId: number, hashPart: string): MemoisedNarInfo | undefined {
    return this.#memo.get(`${ownerId}/${hashPart}`);
  }

  /** The current epoch, to pass to set() after reading. */
  epoch(): number {
    return this.#memo.epoch();
  }

  /** Stores an answer read at `epoch` (see epoch()), unless something changed meanwhile. */
  set(ownerId: number, hashPart: string, entry: MemoisedNarInfo, epoch: number): void {
    this.#memo.set(`${ownerId}/${hashPart}`, entry, epoch);
  }

  invalidate(ownerId: number, hashPart: string): void {
    this.#memo.forget(`${ownerId}/${hashPart}`);
  }

  invalidateOwner(ownerId: number): void {
    const prefix = `${ownerId}/`;
    this.#memo.forgetWhere((key) => key.startsWith(prefix));
  }

  clear(): void {
    this.#memo.clear();
  }

  /** Entries and bytes held now. */
  get usage(): { entries: number; bytes: number } {
    return this.#memo.usage;
  }
}
