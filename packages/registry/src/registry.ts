import { AsyncLocalStorage } from 'node:async_hooks';
import type { Readable } from 'node:stream';
import type { DataSource } from 'typeorm';
import {
  QuotaExceededError,
  type BlobStore,
  type ByteRange,
  type FileRecord,
  type ListPackagesQuery,
  type Logger,
  type OwnerFileRecord,
  type OwnerUsage,
  type PackageRecord,
  type PackageSummary,
  type PropertyRecord,
  type PropertyTarget,
  type RegistryService,
  type RegistryTransaction,
  type StagedBlob,
  type StageOptions,
  type VersionRecord,
  type VersionSummary,
} from '@forge/core';
import { queryRows } from '@forge/db';
import { FILE_COLUMNS, OWNER_FILE_COLUMNS, toFile, toOwnerFile, toPackage, toProperty, toVersion } from './rows.js';
import { Transaction } from './transaction.js';

export interface RegistryOptions {
  /** Maximum bytes of distinct blobs one owner may hold; undefined = unlimited. */
  ownerQuotaBytes?: number;
  logger?: Logger;
}

/**
 * The transaction a registry write is running, so reads made during it (through this
 * service) see its own writes and use its connection. With PGlite, which has a single
 * connection, a read outside the transaction would otherwise wait for it forever.
 */
const activeTransaction = new AsyncLocalStorage<Transaction>();

export class Registry implements RegistryService {
  constructor(
    private readonly ds: DataSource,
    private readonly blobs: BlobStore,
    private readonly options: RegistryOptions = {},
  ) {}

  stageBlob(source: AsyncIterable<Uint8Array>, options?: StageOptions): Promise<StagedBlob> {
    return this.blobs.stage(source, options);
  }

  async write<T>(work: (tx: RegistryTransaction) => Promise<T>, options: { discardOnFailure?: StagedBlob[] } = {}): Promise<T> {
    if (activeTransaction.getStore()) {
      throw new Error('registry.write was called inside another registry.write: use the transaction passed to the outer one');
    }
    const toDiscard = new Set<StagedBlob>(options.discardOnFailure ?? []);
    let tx: Transaction | undefined;
    try {
      return await this.ds.transaction(async (manager) => {
        tx = new Transaction(manager, this.options.ownerQuotaBytes !== undefined);
        const result = await activeTransaction.run(tx, () => work(tx!));
        await this.checkQuota(tx);
        // Bytes reach their content address before COMMIT, so a committed row never
        // points at a missing blob. If COMMIT then fails, the promoted blob is an orphan
        // that blob cleanup removes after its grace period.
        // All at once: each promote ends in fsyncs of directories, and a NAR upload promotes
        // two blobs (the NAR and its listing); waiting on them in turn doubled that latency.
        await Promise.all([...tx.staged].map((blob) => blob.promote()));
        return result;
      });
    } finally {
      // After success this only drops staged blobs that were never used (promoted ones are no-ops).
      for (const blob of tx?.staged ?? []) toDiscard.add(blob);
      await Promise.all([...toDiscard].map((b) => b.discard().catch(() => {})));
    }
  }

  private async checkQuota(tx: Transaction): Promise<void> {
    const limit = this.options.ownerQuotaBytes;
    if (limit === undefined) return;
    for (const ownerId of tx.grownOwners) {
      const bytes = await tx.storedBytes(ownerId);
      if (bytes > limit) throw new QuotaExceededError(`storage quota exceeded: ${bytes} of ${limit} bytes`);
    }
  }

  async createPackageAndAddFile(input: Parameters<RegistryService['createPackageAndAddFile']>[0]) {
    return this.write(
      async (tx) => {
        const pkg = await tx.getOrCreatePackage({ ownerId: input.ownerId, type: input.type, name: input.name });
        const { version } = await tx.getOrCreateVersion({
          packageId: pkg.id,
          version: input.version,
          metadata: input.metadata,
          creatorId: input.creatorId,
        });
        const file = await tx.addFile({ versionId: version.id, ...input.file });
        return { package: pkg, version, file };
      },
      { discardOnFailure: [input.file.blob] },
    );
  }

  // --- reads ---

  private q<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    const tx = activeTransaction.getStore();
    return queryRows<T>(tx ? tx.manager : this.ds, sql, params);
  }

  async getPackage(ownerId: number, type: string, name: string): Promise<PackageRecord | null> {
    const [row] = await this.q(`SELECT * FROM package WHERE owner_id = $1 AND type = $2 AND lower_name = $3`, [
      ownerId,
      type,
      name.toLowerCase(),
    ]);
    return row ? toPackage(row) : null;
  }

  async getPackageById(id: number): Promise<PackageRecord | null> {
    const [row] = await this.q(`SELECT * FROM package WHERE id = $1`, [id]);
    return row ? toPackage(row) : null;
  }

  async listPackages(query: ListPackagesQuery): Promise<{ items: PackageRecord[]; total: number }> {
    const where = ['owner_id = $1'];
    const params: unknown[] = [query.ownerId];
    if (query.type) {
      params.push(query.type);
      where.push(`type = $${params.length}`);
    }
    if (query.types) {
      params.push([...query.types]);
      where.push(`type = ANY($${params.length}::varchar[])`);
    }
    if (query.query) {
      params.push(`%${escapeLike(query.query.toLowerCase())}%`);
      where.push(`lower_name LIKE $${params.length}`);
    }
    const clause = where.join(' AND ');
    const [{ total }] = await this.q<{ total: number | string }>(`SELECT count(*) AS total FROM package WHERE ${clause}`, params);
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const offset = Math.max(query.offset ?? 0, 0);
    const rows = await this.q(
      `SELECT * FROM package WHERE ${clause} ORDER BY lower_name, type LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    return { items: rows.map(toPackage), total: Number(total) };
  }

  async getVersion(packageId: number, version: string): Promise<VersionRecord | null> {
    const [row] = await this.q(`SELECT * FROM package_version WHERE package_id = $1 AND lower_version = $2`, [
      packageId,
      version.toLowerCase(),
    ]);
    return row ? toVersion(row) : null;
  }

  async getVersionById(id: number): Promise<VersionRecord | null> {
    const [row] = await this.q(`SELECT * FROM package_version WHERE id = $1`, [id]);
    return row ? toVersion(row) : null;
  }

  async listVersions(packageId: number): Promise<VersionRecord[]> {
    const rows = await this.q(`SELECT * FROM package_version WHERE package_id = $1 ORDER BY created_at DESC, id DESC`, [packageId]);
    return rows.map(toVersion);
  }

  async summarizePackages(packageIds: number[]): Promise<Map<number, PackageSummary>> {
    const result = new Map<number, PackageSummary>();
    if (packageIds.length === 0) return result;
    const rows = await this.q(
      `SELECT DISTINCT ON (v.package_id) v.*, count(*) OVER (PARTITION BY v.package_id) AS version_count
       FROM package_version v WHERE v.package_id = ANY($1::int[])
       ORDER BY v.package_id, v.created_at DESC, v.id DESC`,
      [packageIds],
    );
    for (const id of packageIds) result.set(id, { versions: 0, latest: null });
    for (const row of rows) {
      const latest = toVersion(row);
      result.set(latest.packageId, { versions: Number(row.version_count), latest });
    }
    return result;
  }

  async summarizeVersions(versionIds: number[]): Promise<Map<number, VersionSummary>> {
    const result = new Map<number, VersionSummary>(versionIds.map((id) => [id, { files: 0, size: 0 }]));
    if (versionIds.length === 0) return result;
    const rows = await this.q<{ version_id: number | string; files: number | string; size: number | string }>(
      `SELECT f.version_id, count(*) AS files, coalesce(sum(b.size), 0) AS size
       FROM package_file f JOIN package_blob b ON b.id = f.blob_id
       WHERE f.version_id = ANY($1::int[]) GROUP BY f.version_id`,
      [versionIds],
    );
    for (const row of rows) result.set(Number(row.version_id), { files: Number(row.files), size: Number(row.size) });
    return result;
  }

  async listFiles(versionId: number): Promise<FileRecord[]> {
    const rows = await this.q(
      `SELECT ${FILE_COLUMNS} FROM package_file f JOIN package_blob b ON b.id = f.blob_id WHERE f.version_id = $1 ORDER BY f.lower_name, f.composite_key`,
      [versionId],
    );
    return rows.map(toFile);
  }

  async getFile(versionId: number, name: string, compositeKey = ''): Promise<FileRecord | null> {
    const [row] = await this.q(
      `SELECT ${FILE_COLUMNS} FROM package_file f JOIN package_blob b ON b.id = f.blob_id
       WHERE f.version_id = $1 AND f.lower_name = $2 AND f.composite_key = $3`,
      [versionId, name.toLowerCase(), compositeKey],
    );
    return row ? toFile(row) : null;
  }

  async getOwnerFile(ownerId: number, type: string, key: string): Promise<OwnerFileRecord | null> {
    const [row] = await this.q(
      `SELECT ${OWNER_FILE_COLUMNS} FROM package_owner_file o JOIN package_blob b ON b.id = o.blob_id
       WHERE o.owner_id = $1 AND o.type = $2 AND o.key = $3`,
      [ownerId, type, key],
    );
    return row ? toOwnerFile(row) : null;
  }

  async getOwnerFiles(ownerId: number, type: string, keys: readonly string[]): Promise<Map<string, OwnerFileRecord>> {
    if (keys.length === 0) return new Map();
    const rows = await this.q(
      `SELECT ${OWNER_FILE_COLUMNS} FROM package_owner_file o JOIN package_blob b ON b.id = o.blob_id
       WHERE o.owner_id = $1 AND o.type = $2 AND o.key = ANY($3::varchar[])`,
      [ownerId, type, [...keys]],
    );
    return new Map(rows.map((r) => [String(r.key), toOwnerFile(r)]));
  }

  async getProperties(refType: PropertyTarget, refId: number): Promise<PropertyRecord[]> {
    const rows = await this.q(`SELECT * FROM package_property WHERE ref_type = $1 AND ref_id = $2 ORDER BY name, id`, [refType, refId]);
    return rows.map(toProperty);
  }

  openBlob(sha256: string, range?: ByteRange): Promise<Readable> {
    return this.blobs.open(sha256, range);
  }

  async ownerUsage(ownerId: number, type?: string): Promise<OwnerUsage> {
    const typeFilter = type ? 'AND p.type = $2' : '';
    const ownerTypeFilter = type ? 'AND o.type = $2' : '';
    const params = type ? [ownerId, type] : [ownerId];
    const [row] = await this.q<{ referenced: string | number; distinct_bytes: string | number; files: string | number }>(
      `WITH refs AS (
         SELECT f.blob_id FROM package_file f JOIN package_version v ON v.id = f.version_id JOIN package p ON p.id = v.package_id
           WHERE p.owner_id = $1 ${typeFilter}
         UNION ALL
         SELECT o.blob_id FROM package_owner_file o WHERE o.owner_id = $1 ${ownerTypeFilter})
       SELECT coalesce((SELECT sum(b.size) FROM refs r JOIN package_blob b ON b.id = r.blob_id), 0) AS referenced,
              coalesce((SELECT sum(b.size) FROM package_blob b WHERE b.id IN (SELECT blob_id FROM refs)), 0) AS distinct_bytes,
              (SELECT count(*) FROM refs) AS files`,
      params,
    );
    return { referencedBytes: Number(row?.referenced ?? 0), distinctBytes: Number(row?.distinct_bytes ?? 0), files: Number(row?.files ?? 0) };
  }

  /**
   * Deletes blobs no file or owner file references, older than `graceMs` (uploads in
   * flight and just-unreferenced blobs are spared), then their bytes. Returns what went.
   */
  async deleteUnreferencedBlobs(options: { graceMs: number; dryRun?: boolean; onProgress?: (done: number, total: number) => void }): Promise<{ count: number; bytes: number }> {
    const candidates = await this.q<{ id: number; sha256: string; size: number | string }>(
      `SELECT b.id, b.sha256, b.size FROM package_blob b
       WHERE b.created_at < now() - make_interval(secs => $1)
         AND NOT EXISTS (SELECT 1 FROM package_file f WHERE f.blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM package_owner_file o WHERE o.blob_id = b.id)`,
      [options.graceMs / 1000],
    );
    let count = 0;
    let bytes = 0;
    for (const [i, blob] of candidates.entries()) {
      options.onProgress?.(i, candidates.length);
      if (options.dryRun) {
        count++;
        bytes += Number(blob.size);
        continue;
      }
      const deleted = await this.ds.transaction(async (m) => {
        await m.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [blob.sha256]);
        const rows = await queryRows(m,
          `DELETE FROM package_blob b WHERE b.id = $1
             AND b.created_at < now() - make_interval(secs => $2)
             AND NOT EXISTS (SELECT 1 FROM package_file f WHERE f.blob_id = b.id)
             AND NOT EXISTS (SELECT 1 FROM package_owner_file o WHERE o.blob_id = b.id)
           RETURNING b.id`,
          [blob.id, options.graceMs / 1000],
        );
        // The bytes go while the lock is held, so no writer can adopt this hash meanwhile.
        if (rows.length > 0) await this.blobs.delete(blob.sha256);
        return rows.length > 0;
      });
      if (deleted) {
        count++;
        bytes += Number(blob.size);
      }
    }
    options.onProgress?.(candidates.length, candidates.length);
    return { count, bytes };
  }
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
