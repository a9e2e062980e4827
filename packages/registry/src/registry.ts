import { AsyncLocalStorage } from 'node:async_hooks';
import type { Readable } from 'node:stream';
import type { DataSource, EntityManager } from 'typeorm';
import {
  PayloadTooLargeError,
  QuotaExceededError,
  quotaFull,
  quotaRefusal,
  ServiceUnavailableError,
  type RegistryStageOptions,
  type StorageStatus,
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
  type StoredBlobInfo,
  type VersionListing,
  type VersionRecord,
  type VersionSummary,
} from '@forge/core';
import { queryRows } from '@forge/db';
import { FILE_COLUMNS, OWNER_FILE_COLUMNS, toFile, toOwnerFile, toPackage, toProperty, toVersion } from './rows.js';
import { StorageAccounting } from './storage-accounting.js';
import { Transaction } from './transaction.js';

export interface RegistryOptions {
  /**
   * The quota of owners without one of their own (`FORGE_OWNER_QUOTA_BYTES`): bytes of
   * distinct blobs one owner may hold; undefined = unlimited.
   */
  ownerQuotaBytes?: number;
  logger?: Logger;
  /**
   * Told, after COMMIT, the usage of every limited owner a write charged more (the host
   * turns a high one into the upload response's warning header).
   */
  onStorageChecked?: (status: StorageStatus) => void | Promise<void>;
}

/**
 * The transaction a registry write is running, so reads made during it (through this
 * service) see its own writes and use its connection. With PGlite, which has a single
 * connection, a read outside the transaction would otherwise wait for it forever.
 */
const activeTransaction = new AsyncLocalStorage<Transaction>();

export class Registry implements RegistryService {
  /** Usage and quotas per owner (docs/quotas.md). */
  readonly storage: StorageAccounting;

  constructor(
    private readonly ds: DataSource,
    private readonly blobs: BlobStore,
    private readonly options: RegistryOptions = {},
  ) {
    this.storage = new StorageAccounting(ds, options.ownerQuotaBytes);
  }

  /**
   * With `ownerId`, an upload to an owner that has no room left is refused before its body
   * is read, and one that grows past the room left is cut off there: the bytes an
   * over-quota upload can make the server stage are bounded by the quota. (The check
   * that counts is the one before COMMIT: a blob the owner already holds costs nothing.)
   */
  async stageBlob(source: AsyncIterable<Uint8Array>, options: RegistryStageOptions = {}): Promise<StagedBlob> {
    const { ownerId, ...stage } = options;
    if (ownerId === undefined) return this.blobs.stage(source, stage);
    const status = await this.storage.status(ownerId);
    if (status.limitBytes === null) return this.blobs.stage(source, stage);
    const room = status.limitBytes - status.usedBytes;
    if (room <= 0) throw new QuotaExceededError(quotaFull(await this.ownerName(ownerId), status.usedBytes, status.limitBytes));
    if (stage.maxSize !== undefined && stage.maxSize <= room) return this.blobs.stage(source, stage);
    try {
      return await this.blobs.stage(source, { ...stage, maxSize: room });
    } catch (err) {
      if (!(err instanceof PayloadTooLargeError)) throw err;
      throw new QuotaExceededError(quotaRefusal(await this.ownerName(ownerId), status.usedBytes, room + 1, status.limitBytes, true));
    }
  }

  private async ownerName(ownerId: number, manager?: EntityManager): Promise<string> {
    const [row] = await queryRows<{ name: string }>(manager ?? activeTransaction.getStore()?.manager ?? this.ds, `SELECT name FROM owner WHERE id = $1`, [ownerId]);
    return row ? String(row.name) : `owner ${ownerId}`;
  }

  /** The owner's usage and quota (one statement). */
  storageStatus(ownerId: number): Promise<StorageStatus> {
    return this.storage.status(ownerId, activeTransaction.getStore()?.manager ?? this.ds);
  }

  async write<T>(
    work: (tx: RegistryTransaction) => Promise<T>,
    options: { staged?: StagedBlob[]; discardOnFailure?: StagedBlob[] } = {},
  ): Promise<T> {
    if (activeTransaction.getStore()) {
      throw new Error('registry.write was called inside another registry.write: use the transaction passed to the outer one');
    }
    const declared = new Set<StagedBlob>([...(options.staged ?? []), ...(options.discardOnFailure ?? [])]);
    const used = new Set<StagedBlob>();
    try {
      // Bytes reach their content address before the transaction begins: a promote may
      // move gigabytes (an upload on S3) and must hold no row lock meanwhile. Content
      // addressing makes an early promote harmless: if the transaction then fails, the
      // object has no row and the orphan sweep removes it after its grace period.
      // All at once: a NAR upload promotes two blobs (the NAR and its listing).
      await Promise.all([...declared].map((blob) => blob.promote()));
      for (let attempt = 1; ; attempt++) {
        try {
          const { result, checked } = await this.ds.transaction(async (manager) => {
            const tx = new Transaction(manager);
            try {
              const result = await activeTransaction.run(tx, () => work(tx));
              await this.promoteUndeclared(tx, declared);
              await this.verifyInsertedBlobs(tx);
              // Last before COMMIT: the quota lock it takes is held until then, so keep it short.
              const checked = await this.checkQuota(manager);
              return { result, checked };
            } finally {
              for (const blob of tx.staged) used.add(blob);
            }
          });
          // Committed already: a failing observer must not make the write look failed.
          for (const status of checked) await Promise.resolve(this.options.onStorageChecked?.(status)).catch((err: Error) => this.options.logger?.warn('storage observer failed', { err: err.message }));
          return result;
        } catch (error) {
          if (!(error instanceof BlobVanishedError)) throw error;
          if (attempt >= MAX_WRITE_ATTEMPTS) throw new ServiceUnavailableError(`${error.message} (${attempt} attempts)`, 1, { cause: error });
          this.options.logger?.warn('a blob was swept between its promote and its transaction: promoting it again', {
            blobs: error.blobs.map((b) => b.sha256),
            attempt,
          });
          await Promise.all(error.blobs.map((blob) => blob.promote()));
        }
      }
    } finally {
      for (const blob of used) declared.add(blob);
      await Promise.all([...declared].map((b) => b.discard().catch(() => {})));
    }
  }

  /**
   * A staged blob the caller did not name in `staged` is promoted inside the transaction,
   * after its row lock (the old order, still correct but holding the lock while it
   * moves): a caller's oversight, logged so it gets fixed.
   */
  private async promoteUndeclared(tx: Transaction, declared: Set<StagedBlob>): Promise<void> {
    const late = [...tx.staged].filter((blob) => !declared.has(blob));
    if (late.length === 0) return;
    this.options.logger?.warn('registry.write used staged blobs it was not given in `staged`: promoted inside the transaction', {
      blobs: late.map((b) => b.sha256),
    });
    await Promise.all(late.map((blob) => blob.promote()));
    for (const blob of late) tx.insertedBlobs.delete(blob);
  }

  /**
   * Objects of blob rows this transaction inserted must exist now that their rows are
   * locked: a sweep deletes an object only while it holds that row's lock (see
   * deleteObjectIfUnreferenced), so what is there now stays until this transaction ends.
   * One stat per new blob (a HEAD on S3); reused rows need none.
   */
  private async verifyInsertedBlobs(tx: Transaction): Promise<void> {
    const blobs = [...tx.insertedBlobs];
    if (blobs.length === 0) return;
    const found = await Promise.all(blobs.map((blob) => this.blobs.stat(blob.sha256)));
    const vanished = blobs.filter((blob, i) => found[i]?.size !== blob.size);
    if (vanished.length > 0) throw new BlobVanishedError(vanished);
  }

  /**
   * Refuses the write if it takes an owner past its quota. Only owners this transaction
   * charged more are checked (a narinfo that attaches a NAR its owner holds already adds
   * nothing), each under its quota lock, in owner order (no deadlock between two writes
   * that grow the same two owners).
   */
  private async checkQuota(manager: EntityManager): Promise<StorageStatus[]> {
    const grown = await this.storage.grownInThisTransaction(manager);
    if (grown.size === 0) return [];
    const rows = await this.storage.quotaRows([...grown.keys()], manager);
    const checked: StorageStatus[] = [];
    for (const ownerId of [...grown.keys()].sort((a, b) => a - b)) {
      const { limitBytes } = this.storage.effectiveLimit(rows.get(ownerId));
      if (limitBytes === null) continue;
      const used = await this.storage.lockedUsage(manager, ownerId);
      if (used > limitBytes) {
        const added = grown.get(ownerId)!;
        throw new QuotaExceededError(quotaRefusal(await this.ownerName(ownerId, manager), used - added, added, limitBytes));
      }
      checked.push(this.storage.toStatus(ownerId, used, rows.get(ownerId)));
    }
    return checked;
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
    const { clause, params } = packageFilter(query);
    const [{ total }] = await this.q<{ total: number | string }>(`SELECT count(*) AS total FROM package WHERE ${clause}`, params);
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const offset = Math.max(query.offset ?? 0, 0);
    const rows = await this.q(
      `SELECT * FROM package WHERE ${clause} ORDER BY lower_name, type LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    return { items: rows.map(toPackage), total: Number(total) };
  }

  async searchVersions(query: ListPackagesQuery): Promise<{ items: VersionListing[]; total: number }> {
    const { clause, params } = packageFilter(query, 'p.');
    const [{ total }] = await this.q<{ total: number | string }>(
      `SELECT count(*) AS total FROM package_version v JOIN package p ON p.id = v.package_id WHERE ${clause}`,
      params,
    );
    const limit = Math.min(Math.max(query.limit ?? 50, 1), 500);
    const offset = Math.max(query.offset ?? 0, 0);
    // Gitea's order: newest version first, then the higher id.
    const rows = await this.q(
      `SELECT v.*, p.owner_id AS p_owner_id, p.type AS p_type, p.name AS p_name, p.lower_name AS p_lower_name, p.created_at AS p_created_at
       FROM package_version v JOIN package p ON p.id = v.package_id WHERE ${clause}
       ORDER BY v.created_at DESC, v.id DESC LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    const items = rows.map((row) => ({
      version: toVersion(row),
      package: toPackage({
        id: row.package_id,
        owner_id: row.p_owner_id,
        type: row.p_type,
        name: row.p_name,
        lower_name: row.p_lower_name,
        created_at: row.p_created_at,
      }),
    }));
    return { items, total: Number(total) };
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

  /** Every blob stored, counted once however many files share it (for /metrics). */
  async blobTotals(): Promise<{ blobs: number; bytes: number }> {
    const [row] = await this.q<{ blobs: string | number; bytes: string | number }>(`SELECT count(*) AS blobs, coalesce(sum(size), 0) AS bytes FROM package_blob`);
    return { blobs: Number(row?.blobs ?? 0), bytes: Number(row?.bytes ?? 0) };
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
   * Deletes blob rows no file or owner file references and that are older than `graceMs`
   * (uploads in flight and just-unreferenced blobs are spared), then their objects.
   * Returns what went. Each row goes in its own short transaction, whose DELETE waits for
   * a writer holding the row's lock and re-checks the age (a reuse touches created_at);
   * the object goes after that COMMIT, under deleteObjectIfUnreferenced's lock, so a
   * committed row never outlives its object even if this process dies midway.
   */
  async deleteUnreferencedBlobs(options: { graceMs: number; dryRun?: boolean; onProgress?: (done: number, total: number) => void }): Promise<{ count: number; bytes: number }> {
    const graceSeconds = nonNegative(options.graceMs, 'graceMs') / 1000;
    const candidates = await this.q<{ id: number; sha256: string; size: number | string }>(
      `SELECT b.id, b.sha256, b.size FROM package_blob b
       WHERE b.created_at < now() - make_interval(secs => $1)
         AND NOT EXISTS (SELECT 1 FROM package_file f WHERE f.blob_id = b.id)
         AND NOT EXISTS (SELECT 1 FROM package_owner_file o WHERE o.blob_id = b.id)`,
      [graceSeconds],
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
      const rows = await queryRows(
        this.ds,
        `DELETE FROM package_blob b WHERE b.id = $1
           AND b.created_at < now() - make_interval(secs => $2)
           AND NOT EXISTS (SELECT 1 FROM package_file f WHERE f.blob_id = b.id)
           AND NOT EXISTS (SELECT 1 FROM package_owner_file o WHERE o.blob_id = b.id)
         RETURNING b.id`,
        [blob.id, graceSeconds],
      );
      if (rows.length === 0) continue;
      count++;
      bytes += Number(blob.size);
      // A writer may have inserted the hash afresh since: then its row keeps the object.
      await this.deleteObjectIfUnreferenced(String(blob.sha256).trim());
    }
    options.onProgress?.(candidates.length, candidates.length);
    return { count, bytes };
  }

  /**
   * The sweep of the blob store itself: removes objects that no blob row names and that
   * were last written more than `olderThanMs` ago (left by a transaction that failed after
   * its promote, or by a cleanup that died between a row's deletion and its object's),
   * and staging leftovers of that age (the store's sweepStaging: local staging files,
   * incomplete multipart uploads). Meant to run with garbage collection, with the blob
   * grace period (`FORGE_BLOB_GRACE`); the argument why it never removes an object a
   * writer is about to commit is in docs/blob-store.md.
   */
  async sweepOrphanBlobs(options: {
    olderThanMs: number;
    dryRun?: boolean;
    /** Objects examined so far (the store is listed once, in hash order). */
    onProgress?: (examined: number) => void;
  }): Promise<{ objects: number; bytes: number; staging: number }> {
    const olderThanMs = nonNegative(options.olderThanMs, 'olderThanMs');
    const staging = options.dryRun ? 0 : await this.blobs.sweepStaging(olderThanMs);
    const cutoff = Date.now() - olderThanMs;
    let objects = 0;
    let bytes = 0;
    let examined = 0;
    let batch: StoredBlobInfo[] = [];
    const flush = async () => {
      const rows = await this.q<{ sha256: string }>(`SELECT sha256 FROM package_blob WHERE sha256 = ANY($1::char(64)[])`, [batch.map((b) => b.sha256)]);
      const known = new Set(rows.map((r) => String(r.sha256).trim()));
      for (const entry of batch) {
        if (known.has(entry.sha256)) continue;
        if (options.dryRun || (await this.deleteObjectIfUnreferenced(entry.sha256, cutoff))) {
          objects++;
          bytes += entry.size;
        }
      }
      batch = [];
    };
    for await (const entry of this.blobs.entries()) {
      options.onProgress?.(++examined);
      if (entry.modifiedMs > cutoff) continue;
      batch.push(entry);
      if (batch.length >= SWEEP_BATCH) await flush();
    }
    if (batch.length > 0) await flush();
    return { objects, bytes, staging };
  }

  /**
   * Deletes a blob's object if no blob row names it, holding the lock a writer's row
   * insert for that hash would take: an uncommitted placeholder row in package_blob
   * (unique by sha256). A writer that inserts the hash meanwhile waits for this
   * transaction, then finds the object gone when it verifies before COMMIT, and promotes
   * again; a row that exists (committed, or being inserted) makes this a no-op. With
   * `modifiedBefore`, an object written since then (by a writer about to commit) is kept.
   */
  private async deleteObjectIfUnreferenced(sha256: string, modifiedBefore?: number): Promise<boolean> {
    return this.ds.transaction(async (manager) => {
      const [placeholder] = await queryRows<{ id: number }>(
        manager,
        `INSERT INTO package_blob (sha256, size) VALUES ($1, -1) ON CONFLICT (sha256) DO NOTHING RETURNING id`,
        [sha256],
      );
      if (!placeholder) return false;
      let deleted = false;
      const info = await this.blobs.stat(sha256);
      if (info && (modifiedBefore === undefined || info.modifiedMs <= modifiedBefore)) {
        await this.blobs.delete(sha256);
        deleted = true;
      }
      await manager.query(`DELETE FROM package_blob WHERE id = $1`, [placeholder.id]);
      return deleted;
    });
  }
}

/** Objects examined per database lookup in sweepOrphanBlobs. */
const SWEEP_BATCH = 500;

/** A write whose blobs keep vanishing between promote and COMMIT gives up after this many attempts. */
const MAX_WRITE_ATTEMPTS = 3;

/** A blob's object was removed between its promote and the row lock of the write using it. */
class BlobVanishedError extends Error {
  constructor(readonly blobs: StagedBlob[]) {
    super(`blob objects vanished before COMMIT: ${blobs.map((b) => b.sha256).join(', ')}`);
  }
}

function nonNegative(value: number, name: string): number {
  if (!(Number.isFinite(value) && value >= 0)) throw new RangeError(`${name} must be a non-negative number of milliseconds, got ${value}`);
  return value;
}

/** The WHERE clause of a package list or search (`prefix` qualifies the package table's columns). */
function packageFilter(query: ListPackagesQuery, prefix = ''): { clause: string; params: unknown[] } {
  const where = [`${prefix}owner_id = $1`];
  const params: unknown[] = [query.ownerId];
  if (query.type) {
    params.push(query.type);
    where.push(`${prefix}type = $${params.length}`);
  }
  if (query.types) {
    params.push([...query.types]);
    where.push(`${prefix}type = ANY($${params.length}::varchar[])`);
  }
  if (query.query) {
    params.push(`%${escapeLike(query.query.toLowerCase())}%`);
    where.push(`${prefix}lower_name LIKE $${params.length}`);
  }
  if (query.name !== undefined) {
    params.push(query.name.toLowerCase());
    where.push(`${prefix}lower_name = $${params.length}`);
  }
  return { clause: where.join(' AND '), params };
}

function escapeLike(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}
