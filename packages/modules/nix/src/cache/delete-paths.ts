import { ConflictError, NotFoundError, type Owner, type RegistryService, type RegistryTransaction } from '@forge/core';
import { NIX } from '../constants.js';
import { CollectionQueries } from '../store/collection-queries.js';
import { Pins } from '../store/pins.js';
import { StorePathWrites } from '../store/store-path-writes.js';
import { StorePaths, type StorePathRecord } from '../store/store-paths.js';
import type { NixChanges } from './change-notices.js';
import { narFileNameOf, ownerFileKeys } from './owner-files.js';

/** How many referrers of one path a deletion follows (a recursive deletion, per path). */
const REFERRERS_PER_PATH = 10_000;

export interface DeleteOptions {
  /**
   * Also delete every path that depends on the roots (referrers, their referrers, …).
   * Without it, a root that another path references is refused (409): no served narinfo
   * is ever left with references that are gone.
   */
  withDependents: boolean;
}

/** A path a collection planned to delete, with the last use it planned with. */
export interface PlannedDeletion {
  hashPart: string;
  lastUsed: Date;
}

/** What one batch of a collection did: deleted, or spared because it turned out live. */
export interface CollectedBatch {
  deleted: StorePathRecord[];
  /** Hash parts spared: used, pinned or referenced since the plan (or already gone: not listed). */
  spared: Array<{ hashPart: string; why: 'used' | 'pinned' | 'referenced' }>;
}

/**
 * Deleting store paths from an owner's cache: their versions (and files), their Nix rows,
 * and each NAR and listing unless another path of the owner still names them. Several
 * roots go in one transaction (a collection deletes a batch; the API and the pages one),
 * and a root that references another root is no obstacle. A pinned path is never deleted.
 */
export class StorePathDeletion {
  constructor(private readonly deps: { registry: RegistryService; changes: NixChanges }) {}

  /** Deletes `roots` (hash parts), and with `withDependents` what depends on them; returns every path deleted. */
  async delete(owner: Owner, roots: readonly string[], options: DeleteOptions): Promise<StorePathRecord[]> {
    const deleted = await this.deps.registry.write(async (tx) => {
      const paths = new StorePaths(tx.manager);
      const writes = new StorePathWrites(tx.manager);
      // Each path is locked before its referrers are read: an upload that would start
      // referencing it (its reference check takes FOR SHARE) waits, or is already visible.
      // Uploads of the path itself are held off first (and then it is read afresh).
      const lock = (hashPart: string) => lockPath(writes, paths, owner.id, hashPart);
      const doomed = new Map<string, StorePathRecord>();
      // Roots in one order, so two deletions of overlapping batches take their locks alike.
      for (const hashPart of [...new Set(roots)].sort()) {
        const root = await lock(hashPart);
        if (!root) throw new NotFoundError(`${hashPart}.narinfo does not exist in this cache`);
        doomed.set(root.hashPart, root);
      }
      const queue = [...doomed.values()];
      while (queue.length > 0) {
        const next = queue.shift()!;
        for (const found of await paths.referrers(owner.id, next.hashPart, REFERRERS_PER_PATH)) {
          if (doomed.has(found.hashPart)) continue;
          const referrer = await lock(found.hashPart);
          if (!referrer) continue;
          if (!options.withDependents) {
            const names = (await paths.referrers(owner.id, next.hashPart, 6)).filter((p) => !doomed.has(p.hashPart)).map((p) => `${p.hashPart}-${p.name}`);
            throw new ConflictError(
              `${next.hashPart}-${next.name} is referenced by ${names.slice(0, 5).join(', ')}${names.length > 5 ? ' and more' : ''}; ` +
                'delete those first, or delete with ?recursive=true to remove them too',
            );
          }
          doomed.set(referrer.hashPart, referrer);
          queue.push(referrer);
        }
      }
      // Pins are written holding the pinned row FOR SHARE, so what this reads now stays true until COMMIT.
      const pinned = await new Pins(tx.manager).pinning(owner.id, [...doomed.keys()]);
      if (pinned.size > 0) {
        const [hashPart, names] = [...pinned][0]!;
        const path = doomed.get(hashPart)!;
        throw new ConflictError(`${path.hashPart}-${path.name} is pinned (${names.map((n) => `"${n}"`).join(', ')}); unpin it first`);
      }
      return removeRows(tx, paths, owner.id, [...doomed.values()]);
    });
    this.announce(owner.id, deleted);
    return deleted.paths;
  }

  /**
   * One batch of a garbage collection: deletes those of `planned` that are still garbage
   * now that they are locked, under the locks a narinfo upload takes (each path's lock and
   * its row FOR UPDATE; an upload referencing it takes the row FOR SHARE). A path is spared
   * when it was pushed or read since the plan, is pinned, or is referenced by a path outside
   * the batch (a push that referenced it committed first; one that had not yet is refused,
   * cleanly, because the reference is gone). Sparing a path spares what it references in
   * the batch too. Paths already gone are skipped.
   */
  async collectBatch(owner: Owner, planned: readonly PlannedDeletion[]): Promise<CollectedBatch> {
    const result = await this.deps.registry.write(async (tx) => {
      const paths = new StorePaths(tx.manager);
      const writes = new StorePathWrites(tx.manager);
      const queries = new CollectionQueries(tx.manager);
      const candidates = new Map<string, StorePathRecord>();
      const plannedUse = new Map(planned.map((p) => [p.hashPart, p.lastUsed.getTime()]));
      for (const hashPart of [...plannedUse.keys()].sort()) {
        const current = await lockPath(writes, paths, owner.id, hashPart);
        if (current) candidates.set(hashPart, current);
      }
      const spared = new Map<string, CollectedBatch['spared'][number]['why']>();
      for (const [hashPart, current] of candidates) {
        // A push refreshes last_accessed_at, a read records it: either is a use since the plan.
        if (Math.max(current.createdAt.getTime(), current.lastAccessedAt.getTime()) > plannedUse.get(hashPart)!) spared.set(hashPart, 'used');
      }
      for (const hashPart of (await new Pins(tx.manager).pinning(owner.id, [...candidates.keys()])).keys()) spared.set(hashPart, 'pinned');
      const referrers = await queries.referrersOf(owner.id, [...candidates.keys()]);
      // To a fixed point: a path is spared if anything that stays references it.
      for (let changed = true; changed; ) {
        changed = false;
        for (const { hashPart, referrer } of referrers) {
          if (spared.has(hashPart)) continue;
          if (!candidates.has(referrer) || spared.has(referrer)) {
            spared.set(hashPart, 'referenced');
            changed = true;
          }
        }
      }
      const doomed = [...candidates.values()].filter((p) => !spared.has(p.hashPart));
      const removed = await removeRows(tx, paths, owner.id, doomed);
      return { removed, spared: [...spared].map(([hashPart, why]) => ({ hashPart, why })) };
    });
    this.announce(owner.id, result.removed);
    return { deleted: result.removed.paths, spared: result.spared };
  }

  private announce(ownerId: number, removed: { paths: StorePathRecord[]; narsGone: string[] }): void {
    for (const p of removed.paths) this.deps.changes.path(ownerId, p.hashPart);
    for (const fileName of removed.narsGone) this.deps.changes.nar(ownerId, fileName);
  }
}

/** Holds off uploads of the path (its lock), then reads it afresh and locks its row. */
async function lockPath(writes: StorePathWrites, paths: StorePaths, ownerId: number, hashPart: string): Promise<StorePathRecord | null> {
  await writes.lockPath(ownerId, hashPart);
  const current = await paths.byHash(ownerId, hashPart);
  if (current) await writes.lockRow(current.id);
  return current;
}

/** Deletes the paths' versions (their rows cascade) and each NAR and listing no remaining path of the owner names. */
async function removeRows(tx: RegistryTransaction, paths: StorePaths, ownerId: number, doomed: readonly StorePathRecord[]): Promise<{ paths: StorePathRecord[]; narsGone: string[] }> {
  for (const path of doomed) await tx.deleteVersion(path.versionId);
  const narsGone: string[] = [];
  for (const url of new Set(doomed.map((p) => p.url))) {
    if ((await paths.countByUrl(ownerId, url)) > 0) continue;
    const fileName = narFileNameOf(url);
    await tx.deleteOwnerFile({ ownerId, type: NIX, key: ownerFileKeys.nar(fileName) });
    await tx.deleteOwnerFile({ ownerId, type: NIX, key: ownerFileKeys.listing(fileName) });
    narsGone.push(fileName);
  }
  return { paths: [...doomed], narsGone };
}
