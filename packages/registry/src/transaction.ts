import type { EntityManager } from 'typeorm';
import {
  ConflictError,
  NotFoundError,
  type BlobRecord,
  type BlobSource,
  type FileRecord,
  type NewFile,
  type OwnerFileRecord,
  type PackageRecord,
  type PropertyTarget,
  type RegistryTransaction,
  type StagedBlob,
  type VersionRecord,
} from '@forge/core';
import { isUniqueViolation, queryRows } from '@forge/db';
import { FILE_COLUMNS, OWNER_FILE_COLUMNS, toBlob, toFile, toOwnerFile, toPackage, toVersion } from './rows.js';
import { checkName } from './validation.js';

export function isStaged(blob: BlobSource): blob is StagedBlob {
  return typeof (blob as StagedBlob).promote === 'function';
}

/**
 * One registry write. Blob rows it uses are row-locked until COMMIT (inserted, or touched
 * by an update), which the blob cleanups wait for: a blob can never be deleted between a
 * writer deciding to reuse it and that writer's COMMIT. See docs/blob-store.md, "Why a
 * committed row never points at a missing object".
 */
export class Transaction implements RegistryTransaction {
  /** Staged blobs this transaction references. */
  readonly staged = new Set<StagedBlob>();
  /** Staged blobs whose row this transaction inserted (not found committed): their objects are verified before COMMIT. */
  readonly insertedBlobs = new Set<StagedBlob>();
  // What each owner is charged is kept by the database's triggers (the OwnerStorage
  // migration): the quota check reads this transaction's changes from there.
  constructor(readonly manager: EntityManager) {}

  private q<T = Record<string, unknown>>(sql: string, params: unknown[] = []): Promise<T[]> {
    return queryRows<T>(this.manager, sql, params);
  }

  async getOrCreatePackage(input: { ownerId: number; type: string; name: string }): Promise<PackageRecord> {
    const name = checkName('package name', input.name);
    const lower = name.toLowerCase();
    // One round trip: the no-op update makes RETURNING give the existing row too.
    const [row] = await this.q(
      `INSERT INTO package (owner_id, type, name, lower_name) VALUES ($1, $2, $3, $4)
       ON CONFLICT (owner_id, type, lower_name) DO UPDATE SET lower_name = EXCLUDED.lower_name RETURNING *`,
      [input.ownerId, input.type, name, lower],
    );
    return toPackage(row!);
  }

  async createVersion(input: { packageId: number; version: string; metadata?: Record<string, unknown>; creatorId?: number | null }): Promise<VersionRecord> {
    const { version, created } = await this.getOrCreateVersion(input);
    if (!created) throw new ConflictError(`version "${input.version}" already exists`);
    return version;
  }

  async getOrCreateVersion(input: { packageId: number; version: string; metadata?: Record<string, unknown>; creatorId?: number | null }) {
    const version = checkName('version', input.version);
    const lower = version.toLowerCase();
    const inserted = await this.q(
      `INSERT INTO package_version (package_id, version, lower_version, metadata, creator_id) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (package_id, lower_version) DO NOTHING RETURNING *`,
      [input.packageId, version, lower, JSON.stringify(input.metadata ?? {}), input.creatorId ?? null],
    );
    if (inserted.length > 0) return { version: toVersion(inserted[0]!), created: true };
    const [row] = await this.q(`SELECT * FROM package_version WHERE package_id = $1 AND lower_version = $2`, [input.packageId, lower]);
    return { version: toVersion(row!), created: false };
  }

  async updateVersionMetadata(versionId: number, metadata: Record<string, unknown>): Promise<void> {
    await this.q(`UPDATE package_version SET metadata = $2 WHERE id = $1`, [versionId, JSON.stringify(metadata)]);
  }

  async useBlob(blob: BlobSource): Promise<BlobRecord> {
    // The upsert or update below row-locks the blob until COMMIT; the blob cleanup's DELETE
    // waits for that lock and then re-checks created_at, so a reused blob is never deleted
    // under a writer (and a writer after a cleanup inserts the row afresh).
    if (isStaged(blob)) {
      this.staged.add(blob);
      // Touching created_at on reuse keeps a just-reused blob out of the cleanup's grace window.
      const [row] = await this.q(
        `INSERT INTO package_blob (sha256, size, hash_md5, hash_sha1, hash_sha512) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (sha256) DO UPDATE SET created_at = now(),
           hash_md5 = coalesce(package_blob.hash_md5, EXCLUDED.hash_md5),
           hash_sha1 = coalesce(package_blob.hash_sha1, EXCLUDED.hash_sha1),
           hash_sha512 = coalesce(package_blob.hash_sha512, EXCLUDED.hash_sha512)
         RETURNING *, (xmax = 0) AS inserted`,
        [blob.sha256, blob.size, blob.digests?.md5 ?? null, blob.digests?.sha1 ?? null, blob.digests?.sha512 ?? null],
      );
      // A row that existed was committed by a writer whose object was in place (and stays
      // while a row exists); a new row's object was promoted before this transaction took
      // the row's lock, and a sweep may have deleted it in between: checked before COMMIT.
      if (row!.inserted === true) this.insertedBlobs.add(blob);
      return toBlob(row!);
    }
    const [row] = await this.q(`UPDATE package_blob SET created_at = now() WHERE id = $1 RETURNING *`, [blob.id]);
    if (!row) throw new NotFoundError(`blob ${blob.sha256} no longer exists`);
    return toBlob(row);
  }

  async addFile(file: NewFile): Promise<FileRecord> {
    return this.insertFile(file, false);
  }

  async putFile(file: NewFile): Promise<FileRecord> {
    return this.insertFile(file, true);
  }

  private async insertFile(file: NewFile, replace: boolean): Promise<FileRecord> {
    const name = checkName('file name', file.name);
    const blob = await this.useBlob(file.blob);
    const params = [file.versionId, blob.id, name, name.toLowerCase(), file.compositeKey ?? '', file.isLead ?? false];
    let rows: Array<Record<string, unknown>>;
    try {
      rows = await this.q(
        `INSERT INTO package_file (version_id, blob_id, name, lower_name, composite_key, is_lead) VALUES ($1, $2, $3, $4, $5, $6)
         ${replace ? `ON CONFLICT (version_id, lower_name, composite_key) DO UPDATE SET blob_id = EXCLUDED.blob_id, name = EXCLUDED.name, is_lead = EXCLUDED.is_lead, created_at = now()` : ''}
         RETURNING *`,
        params,
      );
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`file "${name}" already exists`);
      throw err;
    }
    return toFile({ ...rows[0], sha256: blob.sha256, size: blob.size });
  }

  async deleteFile(fileId: number): Promise<void> {
    await this.q(`DELETE FROM package_property WHERE ref_type = 'file' AND ref_id = $1`, [fileId]);
    await this.q(`DELETE FROM package_file WHERE id = $1`, [fileId]);
  }

  async deleteVersion(versionId: number): Promise<void> {
    const [version] = await this.q(`SELECT package_id FROM package_version WHERE id = $1`, [versionId]);
    if (!version) return;
    await this.q(
      `DELETE FROM package_property WHERE ref_type = 'file' AND ref_id IN (SELECT id FROM package_file WHERE version_id = $1)`,
      [versionId],
    );
    await this.q(`DELETE FROM package_property WHERE ref_type = 'version' AND ref_id = $1`, [versionId]);
    await this.q(`DELETE FROM package_version WHERE id = $1`, [versionId]); // files cascade
    const packageId = Number(version.package_id);
    const [left] = await this.q(`SELECT 1 FROM package_version WHERE package_id = $1 LIMIT 1`, [packageId]);
    if (!left) {
      await this.q(`DELETE FROM package_property WHERE ref_type = 'package' AND ref_id = $1`, [packageId]);
      await this.q(`DELETE FROM package WHERE id = $1`, [packageId]);
    }
  }

  async putOwnerFile(input: { ownerId: number; type: string; key: string; blob: BlobSource; properties?: Record<string, unknown> }): Promise<OwnerFileRecord> {
    const blob = await this.useBlob(input.blob);
    const [row] = await this.q(
      `INSERT INTO package_owner_file (owner_id, type, key, blob_id, properties) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (owner_id, type, key) DO UPDATE SET blob_id = EXCLUDED.blob_id, properties = EXCLUDED.properties, created_at = now()
       RETURNING *`,
      [input.ownerId, input.type, input.key, blob.id, JSON.stringify(input.properties ?? {})],
    );
    return toOwnerFile({ ...row, sha256: blob.sha256, size: blob.size });
  }

  async deleteOwnerFile(input: { ownerId: number; type: string; key: string }): Promise<boolean> {
    const rows = await this.q(`DELETE FROM package_owner_file WHERE owner_id = $1 AND type = $2 AND key = $3 RETURNING id`, [
      input.ownerId,
      input.type,
      input.key,
    ]);
    return rows.length > 0;
  }

  async setProperty(refType: PropertyTarget, refId: number, name: string, value: string): Promise<void> {
    await this.q(`DELETE FROM package_property WHERE ref_type = $1 AND ref_id = $2 AND name = $3`, [refType, refId, name]);
    await this.q(`INSERT INTO package_property (ref_type, ref_id, name, value) VALUES ($1, $2, $3, $4)`, [refType, refId, name, value]);
  }
}

export { FILE_COLUMNS, OWNER_FILE_COLUMNS, toFile, toOwnerFile };
