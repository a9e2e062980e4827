import type { CleanupTask } from '@forge/core';
import type { NixCache } from './index.js';

/**
 * Garbage collection of every Nix cache (or one owner's) as a host cleanup task: run by
 * the scheduler every `FORGE_CLEANUP_INTERVAL` and by `forge admin cleanup`.
 */
export function collectionTask(nix: NixCache): CleanupTask {
  return {
    name: 'nix-gc',
    perOwner: true,
    async run({ dryRun, ownerId, onProgress, signal }) {
      const reports = await nix.collection.collectAll({ dryRun, ownerId, onProgress, signal });
      const items = reports.reduce((n, r) => n + r.items.length, 0);
      const paths = reports.reduce((n, r) => n + r.items.filter((i) => i.storePath).length, 0);
      const bytes = reports.reduce((n, r) => n + r.bytes, 0);
      const caches = reports.filter((r) => r.items.length > 0).length;
      return {
        summary: `${paths} store ${paths === 1 ? 'path' : 'paths'} and ${items - paths} orphan ${items - paths === 1 ? 'upload' : 'uploads'} (${bytes} bytes) from ${caches} ${caches === 1 ? 'cache' : 'caches'}${dryRun ? ' would go' : ''}`,
        bytes,
        lines: reports.flatMap((r) =>
          r.items.map((i) => `${r.owner}: ${i.storePath ?? i.file} (${i.reason}, ${i.bytes} bytes)`),
        ),
        details: reports.filter((r) => r.items.length > 0 || r.spared > 0),
      };
    },
  };
}
