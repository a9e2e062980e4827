import type { CleanupProgress, Logger, Owner, OwnerDirectory, RegistryService } from '@forge/core';
import { planCollection, type GcReason } from '../gc/liveness.js';
import type { AccessRecorder } from '../store/access-recorder.js';
import type { CacheSettingsStore } from '../store/caches.js';
import { CollectionQueries } from '../store/collection-queries.js';
import type { Pins } from '../store/pins.js';
import type { NixChanges } from './change-notices.js';
import type { StorePathDeletion } from './delete-paths.js';

/** Paths per deletion transaction: short transactions, so pushes wait at most for one. */
export const COLLECTION_BATCH = 100;

/** Orphan uploads removed per collection of one cache (the next collection takes the rest). */
export const ORPHANS_PER_COLLECTION = 10_000;

export type CollectionReason = GcReason | 'orphan-upload';

/** One thing a collection removes (or would): a store path, or a file uploaded without its narinfo. */
export interface CollectedItem {
  /** `/nix/store/<hash>-<name>`, or null for an orphan upload. */
  storePath: string | null;
  /** The owner file of an orphan upload (`nar/…`, `ls/…`, `log/…`), or null for a store path. */
  file: string | null;
  /** NarSize of the path (or of the orphan NAR); null for a listing or a log. */
  narSize: number | null;
  /** Bytes this cache stops holding: the NAR file of a path, the blob of an upload. */
  bytes: number;
  reason: CollectionReason;
}

export interface CollectionReport {
  owner: string;
  dryRun: boolean;
  /** What went (or would go), store paths first in deletion order, then orphan uploads. */
  items: CollectedItem[];
  /** Sum of the items' bytes. */
  bytes: number;
  /** Paths the plan named that turned out live when locked (pushed, read, pinned or referenced since). */
  spared: number;
}

export interface CollectOptions {
  dryRun: boolean;
  onProgress?: (progress: CleanupProgress) => void;
  signal?: AbortSignal;
}

/**
 * Garbage collection of one cache (docs/garbage-collection.md): plans with the pure
 * liveness rules (`gc/liveness.ts`) over a snapshot of the cache, then deletes the garbage
 * referrers first, batch by batch, each batch re-checked under the locks a narinfo upload
 * takes (StorePathDeletion.collectBatch); then removes uploads whose narinfo never came
 * after `FORGE_UPLOAD_GRACE`. The disk is freed by the host's blob sweep once no owner's
 * file names the bytes and `FORGE_BLOB_GRACE` has passed.
 */
export class CacheCollection {
  constructor(
    private readonly deps: {
      db: ConstructorParameters<typeof CollectionQueries>[0];
      registry: RegistryService;
      owners: OwnerDirectory;
      settings: CacheSettingsStore;
      pins: Pins;
      deletion: StorePathDeletion;
      accesses: AccessRecorder;
      changes: NixChanges;
      logger: Logger;
      uploadGraceMs: number;
    },
  ) {}

  /** Every cache, one after another (the cleanup task); `ownerId` limits it to one. */
  async collectAll(options: CollectOptions & { ownerId?: number }): Promise<CollectionReport[]> {
    const queries = new CollectionQueries(this.deps.db);
    const ownerIds = options.ownerId !== undefined ? [options.ownerId] : await queries.caches();
    const reports: CollectionReport[] = [];
    for (const ownerId of ownerIds) {
      if (options.signal?.aborted) break;
      const owner = await this.deps.owners.findById(ownerId);
      if (!owner) continue;
      if (!(await this.deps.settings.get(owner.id))) continue;
      reports.push(await this.collect(owner, options));
    }
    return reports;
  }

  /** Collects one cache, or with `dryRun` answers what a collection would remove now. */
  async collect(owner: Owner, options: CollectOptions): Promise<CollectionReport> {
    const step = `collect ${owner.name}`;
    const progress = (done: number, total?: number) => options.onProgress?.({ step, done, total });
    progress(0);
    // This process's recent reads count: write them before taking the snapshot.
    await this.deps.accesses.flush();
    const queries = new CollectionQueries(this.deps.db);
    const [settings, paths, pinned] = await Promise.all([
      this.deps.settings.get(owner.id),
      queries.paths(owner.id),
      this.deps.pins.pinnedHashParts(owner.id),
    ]);
    const plan = planCollection(
      paths.map((p) => ({ key: p.hashPart, references: p.references, lastUsedMs: p.lastUsed.getTime(), size: p.fileSize, pinned: pinned.has(p.hashPart) })),
      { nowMs: Date.now(), retentionMs: settings?.retentionMs ?? undefined, maxSize: settings?.maxSize ?? undefined },
      COLLECTION_BATCH,
    );
    const byHash = new Map(paths.map((p) => [p.hashPart, p]));
    const pathItem = (hashPart: string): CollectedItem => {
      const p = byHash.get(hashPart)!;
      return { storePath: `/nix/store/${p.hashPart}-${p.name}`, file: null, narSize: p.narSize, bytes: p.fileSize, reason: plan.garbage.get(hashPart)! };
    };
    const orphans = await queries.orphanUploads(owner.id, this.deps.uploadGraceMs, ORPHANS_PER_COLLECTION);
    const orphanItem = (o: (typeof orphans)[number]): CollectedItem => ({ storePath: null, file: o.key, narSize: o.narSize, bytes: o.size, reason: 'orphan-upload' });
    const total = plan.garbage.size + orphans.length;

    const report: CollectionReport = { owner: owner.name, dryRun: options.dryRun, items: [], bytes: 0, spared: 0 };
    const add = (item: CollectedItem) => {
      report.items.push(item);
      report.bytes += item.bytes;
    };
    if (options.dryRun) {
      for (const batch of plan.batches) for (const hashPart of batch) add(pathItem(hashPart));
      for (const o of orphans) add(orphanItem(o));
      progress(total, total);
      return report;
    }

    let done = 0;
    for (const batch of plan.batches) {
      if (options.signal?.aborted) return report;
      // Reads this process answered since the plan count before the batch re-checks them.
      await this.deps.accesses.flush();
      const result = await this.deps.deletion.collectBatch(
        owner,
        batch.map((hashPart) => ({ hashPart, lastUsed: byHash.get(hashPart)!.lastUsed })),
      );
      for (const path of result.deleted) add(pathItem(path.hashPart));
      report.spared += result.spared.length;
      done += batch.length;
      progress(done, total);
      this.deps.logger.debug('collection batch done', { owner: owner.name, deleted: result.deleted.length, spared: result.spared.length, done, total });
    }
    for (const o of orphans) {
      if (options.signal?.aborted) return report;
      if (await this.removeOrphan(owner, o.id, o.key)) add(orphanItem(o));
      progress(++done, total);
    }
    if (report.spared > 0) this.deps.logger.info('collection spared paths used since its plan', { owner: owner.name, spared: report.spared });
    return report;
  }

  /** Removes an orphan upload if it still is one once locked against a narinfo being published with it. */
  private async removeOrphan(owner: Owner, id: number, key: string): Promise<boolean> {
    const removed = await this.deps.registry.write(async (tx) => {
      const queries = new CollectionQueries(tx.manager);
      if (!(await queries.lockOrphan(owner.id, id))) return false;
      return tx.deleteOwnerFile({ ownerId: owner.id, type: 'nix', key });
    });
    if (removed && key.startsWith('nar/')) this.deps.changes.nar(owner.id, key.slice('nar/'.length));
    return removed;
  }
}
