import type { OwnerFileRecord } from '@forge/core';

/**
 * An owner's NAR files (the rows that make a NAR visible in that owner's cache), remembered
 * so a NAR download costs no query. NAR files are immutable (named by their hash); uploads
 * and deletions drop entries through change notices; `ttlMs` bounds a lost notice.
 */
export class NarFileMemo {
  readonly #entries = new Map<string, { file: OwnerFileRecord | null; until: number }>();
  /** Bumped by every forget: a lookup that raced a change is not stored (see NarInfoMemo). */
  #epoch = 0;

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly max = 100_000,
  ) {}

  async get(ownerId: number, fileName: string, load: () => Promise<OwnerFileRecord | null>): Promise<OwnerFileRecord | null> {
    const key = `${ownerId}/${fileName}`;
    const hit = this.#entries.get(key);
    const now = Date.now();
    if (hit && hit.until > now) return hit.file;
    const epoch = this.#epoch;
    const file = await load();
    if (epoch !== this.#epoch) return file;
    if (this.#entries.size >= this.max) this.#entries.clear();
    this.#entries.set(key, { file, until: now + this.ttlMs });
    return file;
  }

  forget(ownerId: number, fileName: string): void {
    this.#epoch++;
    this.#entries.delete(`${ownerId}/${fileName}`);
  }

  clear(): void {
    this.#epoch++;
    this.#entries.clear();
  }
}
