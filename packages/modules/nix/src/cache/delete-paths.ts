import { ConflictError, NotFoundError, type Owner, type RegistryService } from '@forge/core';
import { NIX } from '../constants.js';
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

/**
 * Deleting store paths from an owner's cache: their versions (and files), their Nix rows,
 * and each NAR and listing unless another path of the owner still names them. Several
 * roots go in one transaction (a collection deletes a batch; the API and the pages one),
 * and a root that references another root is no obstacle.
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
      const lock = async (hashPart: string): Promise<StorePathRecord | null> => {
        await writes.lockPath(owner.id, hashPart);
        const current = await paths.byHash(owner.id, hashPart);
        if (current) await writes.lockRow(current.id);
        return current;
      };
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
      for (const path of doomed.values()) await tx.deleteVersion(path.versionId);
      const narsGone: string[] = [];
      for (const url of new Set([...doomed.values()].map((p) => p.url))) {
        if ((await paths.countByUrl(owner.id, url)) > 0) continue;
        const fileName = narFileNameOf(url);
        await tx.deleteOwnerFile({ ownerId: owner.id, type: NIX, key: ownerFileKeys.nar(fileName) });
        await tx.deleteOwnerFile({ ownerId: owner.id, type: NIX, key: ownerFileKeys.listing(fileName) });
        narsGone.push(fileName);
      }
      return { paths: [...doomed.values()], narsGone };
    });
    for (const p of deleted.paths) this.deps.changes.path(owner.id, p.hashPart);
    for (const fileName of deleted.narsGone) this.deps.changes.nar(owner.id, fileName);
    return deleted.paths;
  }
}
