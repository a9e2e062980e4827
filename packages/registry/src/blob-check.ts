/**
 * `forge admin doctor`: which stored blobs that rows name are missing from the blob store,
 * or hold other bytes than their row records (another size; with `verifyHashes`, another
 * sha256), and which files (package versions' and owners') they are. A download of such a
 * file answers 404 (serve-blob.ts); this finds them all at once.
 *
 * The rows (`package_blob`, in sha256 order, a page at a time) and the store's listing
 * (`BlobStore.entries()`, in the same order) are walked side by side, so the check costs
 * one pass over each and memory for one page, whatever the store holds; hashing reads every
 * blob once more.
 */
import { createHash } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { BlobStore, StoredBlobInfo } from '@forge/core';
import { queryRows } from '@forge/db';

const PAGE = 1000;

/** A file a damaged blob belongs to. */
export interface DamagedBlobUse {
  owner: string;
  type: string;
  /** `package@version` for a version's file; empty for an owner file. */
  version: string;
  /** The file's name, or the owner file's key. */
  file: string;
}

export interface DamagedBlob {
  sha256: string;
  recordedSize: number;
  /** `missing`, `size` (another size is stored) or `hash` (the bytes hash to another sha256). */
  problem: 'missing' | 'size' | 'hash';
  storedSize: number | null;
  uses: DamagedBlobUse[];
}

export interface BlobCheckOptions {
  /** Read every blob and compare its sha256 too (slow: every byte is read). */
  verifyHashes?: boolean;
  /** Blobs checked so far, of how many rows there are. */
  onProgress?: (done: number, total: number) => void;
}

export interface BlobCheckResult {
  checked: number;
  damaged: DamagedBlob[];
}

export async function checkStoredBlobs(ds: DataSource, blobs: BlobStore, options: BlobCheckOptions = {}): Promise<BlobCheckResult> {
  const [{ total }] = await queryRows<{ total: number | string }>(ds, `SELECT count(*) AS total FROM package_blob WHERE size >= 0`);
  const count = Number(total);
  const stored = blobs.entries()[Symbol.asyncIterator]();
  let next: StoredBlobInfo | null = null;
  let storeDone = false;
  /** The store's entry for `sha256`, moving the store's cursor past smaller hashes. */
  const storedEntry = async (sha256: string): Promise<StoredBlobInfo | null> => {
    while (!storeDone && (next === null || next.sha256 < sha256)) {
      const step = await stored.next();
      if (step.done) storeDone = true;
      else next = step.value;
    }
    return next !== null && next.sha256 === sha256 ? next : null;
  };

  const damaged: Omit<DamagedBlob, 'uses'>[] = [];
  const ids = new Map<string, number>();
  let checked = 0;
  let after = '';
  options.onProgress?.(0, count);
  try {
    for (;;) {
      // "C" collation: the byte order the store lists hashes in.
      const rows = await queryRows<{ id: number; sha256: string; size: number | string }>(
        ds,
        `SELECT id, sha256, size FROM package_blob WHERE size >= 0 AND sha256 COLLATE "C" > $1 ORDER BY sha256 COLLATE "C" LIMIT ${PAGE}`,
        [after],
      );
      if (rows.length === 0) break;
      for (const row of rows) {
        const sha256 = String(row.sha256).trim();
        const size = Number(row.size);
        const entry = await storedEntry(sha256);
        let problem: DamagedBlob['problem'] | null = null;
        if (!entry) problem = 'missing';
        else if (entry.size !== size) problem = 'size';
        else if (options.verifyHashes && size > 0 && (await hashOf(blobs, sha256)) !== sha256) problem = 'hash';
        if (problem) {
          damaged.push({ sha256, recordedSize: size, problem, storedSize: entry ? entry.size : null });
          ids.set(sha256, row.id);
        }
        options.onProgress?.(++checked, count);
      }
      after = String(rows[rows.length - 1]!.sha256).trim();
    }
  } finally {
    await stored.return?.();
  }
  const result: DamagedBlob[] = [];
  for (const blob of damaged) result.push({ ...blob, uses: await usesOf(ds, ids.get(blob.sha256)!) });
  return { checked, damaged: result };
}

async function hashOf(blobs: BlobStore, sha256: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await blobs.open(sha256)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The files a blob is: versions' files and owner files, with their owners. */
async function usesOf(ds: DataSource, blobId: number): Promise<DamagedBlobUse[]> {
  const rows = await queryRows<{ owner: string; type: string; version: string; file: string }>(
    ds,
    `SELECT o.name AS owner, p.type, p.name || '@' || v.version AS version, f.name AS file
       FROM package_file f JOIN package_version v ON v.id = f.version_id JOIN package p ON p.id = v.package_id JOIN owner o ON o.id = p.owner_id
      WHERE f.blob_id = $1
     UNION ALL
     SELECT o.name, pof.type, '', pof.key
       FROM package_owner_file pof JOIN owner o ON o.id = pof.owner_id
      WHERE pof.blob_id = $1
     ORDER BY 1, 2, 3, 4`,
    [blobId],
  );
  return rows.map((r) => ({ owner: r.owner, type: r.type, version: r.version, file: r.file }));
}
