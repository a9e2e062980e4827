import type { BlobStore, CleanupTask } from '@forge/core';
import type { Registry } from '@forge/registry';

/**
 * Staging files left by a crash (kill -9 mid-upload) or by another process that died:
 * removed once untouched for the blob grace period. A running upload writes to its file
 * all the time, and this process's own uploads are spared whatever their age.
 */
export function stagingSweepTask(blobs: BlobStore, graceMs: number): CleanupTask {
  return {
    name: 'staging-sweep',
    perOwner: false,
    async run({ dryRun }) {
      if (dryRun) return { summary: 'not run in a dry run', bytes: 0 };
      const removed = await blobs.sweepStaging(graceMs);
      return { summary: `${removed} staging ${removed === 1 ? 'leftover' : 'leftovers'} removed`, bytes: 0, details: { removed } };
    },
  };
}

/**
 * What frees the disk: blob rows no file of any owner references any more (deleted paths,
 * collected garbage) and objects no row names, each once older than the blob grace period
 * (`FORGE_BLOB_GRACE`), so an upload about to reuse the same bytes never loses them.
 */
export function blobSweepTask(registry: Registry, graceMs: number): CleanupTask {
  return {
    name: 'blob-sweep',
    perOwner: false,
    async run({ dryRun, onProgress }) {
      const rows = await registry.deleteUnreferencedBlobs({
        graceMs,
        dryRun,
        onProgress: (done, total) => onProgress?.({ step: 'unreferenced blobs', done, total }),
      });
      const orphans = await registry.sweepOrphanBlobs({
        olderThanMs: graceMs,
        dryRun,
        onProgress: (examined) => onProgress?.({ step: 'objects without a row', done: examined }),
      });
      const bytes = rows.bytes + orphans.bytes;
      return {
        summary: `${rows.count} unreferenced ${rows.count === 1 ? 'blob' : 'blobs'} and ${orphans.objects} ${orphans.objects === 1 ? 'object' : 'objects'} without a row (${bytes} bytes)`,
        bytes,
        details: { unreferencedBlobs: rows.count, orphanObjects: orphans.objects, staging: orphans.staging },
      };
    },
  };
}
