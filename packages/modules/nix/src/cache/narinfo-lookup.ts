import type { AccessRecorder } from '../store/access-recorder.js';
import type { StorePaths } from '../store/store-paths.js';
import type { NixMetrics } from './metrics.js';
import type { MemoisedNarInfo, NarInfoMemo } from './narinfo-memo.js';
import type { NarInfoRenderer } from './narinfo-render.js';
import type { Upstreams } from './upstreams.js';

/** A narinfo as served. */
export interface ServedNarInfo {
  body: Buffer;
  pathId: number;
  /** Whether the memo answered (no query): a hit or miss counter reads it. */
  memoised: boolean;
  /** The path is not stored here but served by one of the cache's upstreams (`pathId` is 0). */
  upstream: boolean;
}

/**
 * Looking up a narinfo for serving, the hottest thing a cache does: from the memo when it
 * can (misses are remembered too: `nix copy` and substituters ask for many paths that are
 * not there), otherwise one indexed query with the path's stored signatures, rendered
 * once. An answer read while a change notice arrived is not remembered (the memo's
 * epoch). Every path served is recorded for retention.
 *
 * A path the cache lacks is asked of its upstreams (docs/nix-cache.md#upstream-caches):
 * one that an upstream serves with a valid signature by its configured key is answered
 * with the upstream's narinfo and a NAR URL that redirects there. When an upstream failed
 * the miss is answered but not remembered (the upstream client rests that upstream).
 */
export class NarInfoLookup {
  constructor(
    private readonly memo: NarInfoMemo,
    private readonly paths: StorePaths,
    private readonly renderer: NarInfoRenderer,
    private readonly accesses: AccessRecorder,
    private readonly metrics: NixMetrics,
    private readonly upstreams?: Upstreams,
  ) {}

  /** The narinfo of `hashPart` in an owner's cache, or null when the cache does not have it. */
  async find(ownerId: number, hashPart: string): Promise<ServedNarInfo | null> {
    let entry = this.memo.get(ownerId, hashPart);
    const memoised = entry !== undefined;
    if (!entry) entry = await this.read(ownerId, hashPart);
    this.metrics.narinfoLookup(entry.body !== null, memoised);
    if (!entry.body) return null;
    if (entry.pathId > 0) this.accesses.record(entry.pathId);
    return { body: entry.body, pathId: entry.pathId, memoised, upstream: entry.pathId === 0 };
  }

  /**
   * Reads a path afresh into the memo: after a publish, so a client's first look after a
   * push costs no query (write-through).
   */
  async refresh(ownerId: number, hashPart: string): Promise<void> {
    await this.read(ownerId, hashPart);
  }

  private async read(ownerId: number, hashPart: string): Promise<MemoisedNarInfo> {
    const epoch = this.memo.epoch();
    const found = await this.paths.byHashWithSignatures(ownerId, hashPart);
    if (found) {
      const entry = { body: await this.renderer.render(found.path, found.signatures), pathId: found.path.id };
      this.memo.set(ownerId, hashPart, entry, epoch);
      return entry;
    }
    const upstream = this.upstreams ? await this.upstreams.find(ownerId, hashPart) : 'absent';
    const entry = { body: typeof upstream === 'object' ? this.upstreams!.render(upstream) : null, pathId: 0 };
    if (upstream !== 'unknown') this.memo.set(ownerId, hashPart, entry, epoch);
    return entry;
  }
}
