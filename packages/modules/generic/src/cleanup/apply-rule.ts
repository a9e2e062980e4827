import { formatBytes, type CleanupResult, type CleanupRunOptions, type CleanupTask, type RegistryService } from '@forge/core';
import type { CleanupRuleStore, StoredVersion } from './rule-store.js';
import { compileRule, versionsToRemove, type CleanupRule } from './rules.js';

/** Packages judged per batch (their versions are read in one query). */
const PACKAGES_PER_BATCH = 100;
/** Versions listed by a preview (the count and bytes cover all of them). */
export const PREVIEW_LIST_LIMIT = 1_000;

export interface CleanupOutcome {
  /** What goes (or went), newest package batch order; at most PREVIEW_LIST_LIMIT entries. */
  versions: Array<Pick<StoredVersion, 'packageName' | 'version' | 'createdAt' | 'size'>>;
  count: number;
  bytes: number;
  /** Whether `versions` was cut at PREVIEW_LIST_LIMIT. */
  truncated: boolean;
}

/**
 * Applies an owner's cleanup rule to its generic packages: the preview (dry run) and the
 * removal share one walk, so the preview lists exactly what a run now would remove. Each
 * version goes in its own registry write (its files' bytes leave the owner's usage at once;
 * the blobs go with the blob sweep).
 */
export class GenericCleanup {
  constructor(
    private readonly store: CleanupRuleStore,
    private readonly registry: RegistryService,
  ) {}

  async apply(ownerId: number, rule: CleanupRule, options: { dryRun: boolean; now?: number; signal?: AbortSignal; onVersion?: () => void }): Promise<CleanupOutcome> {
    const compiled = compileRule(rule);
    const now = options.now ?? Date.now();
    const outcome: CleanupOutcome = { versions: [], count: 0, bytes: 0, truncated: false };
    for (let after = 0; ; ) {
      const packages = await this.store.packages(ownerId, after, PACKAGES_PER_BATCH);
      if (packages.length === 0) break;
      after = packages[packages.length - 1]!.id;
      const all = await this.store.versions(packages);
      for (const pkg of packages) {
        const doomed = versionsToRemove(compiled, all.filter((v) => v.packageId === pkg.id), now);
        for (const v of doomed) {
          if (options.signal?.aborted) return outcome;
          if (!options.dryRun) await this.registry.write((tx) => tx.deleteVersion(v.versionId));
          options.onVersion?.();
          outcome.count++;
          outcome.bytes += v.size;
          if (outcome.versions.length < PREVIEW_LIST_LIMIT) outcome.versions.push({ packageName: v.packageName, version: v.version, createdAt: v.createdAt, size: v.size });
          else outcome.truncated = true;
        }
      }
    }
    return outcome;
  }

  /** The scheduler's task: every owner with an enabled rule (or the one named). */
  task(): CleanupTask {
    return {
      name: 'generic-cleanup-rules',
      perOwner: true,
      run: async (options: CleanupRunOptions): Promise<CleanupResult> => {
        const owners = options.ownerId !== undefined ? [options.ownerId] : await this.store.enabledOwners();
        let count = 0;
        let bytes = 0;
        const lines: string[] = [];
        for (const [i, ownerId] of owners.entries()) {
          if (options.signal?.aborted) break;
          const rule = await this.store.get(ownerId);
          if (!rule?.enabled) continue;
          options.onProgress?.({ step: `generic cleanup rules`, done: i, total: owners.length });
          const outcome = await this.apply(ownerId, rule, { dryRun: options.dryRun, signal: options.signal });
          count += outcome.count;
          bytes += outcome.bytes;
          for (const v of outcome.versions) lines.push(`generic ${v.packageName} ${v.version} (${formatBytes(v.size)})`);
        }
        options.onProgress?.({ step: 'generic cleanup rules', done: owners.length, total: owners.length });
        return { summary: `${count} generic package versions (${formatBytes(bytes)})`, bytes, lines };
      },
    };
  }
}
