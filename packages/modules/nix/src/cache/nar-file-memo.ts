import { Memo, type OwnerFileRecord } from '@forge/core';

/**
 * An owner's NAR files (the rows that make a NAR visible in that owner's cache), remembered
 * so a NAR download costs no query. NAR files are immutable (named by their hash); uploads
 * and deletions drop entries through change notices; the time limit bounds a lost notice.
 */
export class NarFileMemo {
  readonly #memo = new Memo<string, OwnerFileRecord | null>({ name: 'nix_nar_files', maxEntries: 100_000, ttlMs: 10 * 60_000 });

  get(ownerId: number, fileName: string, load: () => Promise<OwnerFileRecord | null>): Promise<OwnerFileRecord | null> {
    return this.#memo.load(`${ownerId}/${fileName}`, load);
  }

  forget(ownerId: number, fileName: string): void {
    this.#memo.forget(`${ownerId}/${fileName}`);
  }

  clear(): void {
    this.#memo.clear();
  }
}
