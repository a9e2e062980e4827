import type { BlobRecord, FileRecord, OwnerFileRecord, PackageRecord, PropertyRecord, VersionRecord } from '@forge/core';

/** Raw SQL rows (snake_case) to records. Sizes arrive as numbers (parseInt8) or strings. */
type Row = Record<string, unknown>;

const num = (v: unknown) => (typeof v === 'number' ? v : Number(v));
const date = (v: unknown) => (v instanceof Date ? v : new Date(String(v)));
const json = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as Record<string, unknown>) : ((v ?? {}) as Record<string, unknown>));

export const toPackage = (r: Row): PackageRecord => ({
  id: num(r.id),
  ownerId: num(r.owner_id),
  type: String(r.type),
  name: String(r.name),
  lowerName: String(r.lower_name),
  createdAt: date(r.created_at),
});

export const toVersion = (r: Row): VersionRecord => ({
  id: num(r.id),
  packageId: num(r.package_id),
  version: String(r.version),
  lowerVersion: String(r.lower_version),
  metadata: json(r.metadata),
  creatorId: r.creator_id == null ? null : num(r.creator_id),
  createdAt: date(r.created_at),
});

export const toBlob = (r: Row): BlobRecord => ({
  id: num(r.id),
  sha256: String(r.sha256),
  size: num(r.size),
  createdAt: date(r.created_at),
});

/** Expects the file columns plus `sha256` and `size` joined from package_blob. */
export const toFile = (r: Row): FileRecord => ({
  id: num(r.id),
  versionId: num(r.version_id),
  blobId: num(r.blob_id),
  name: String(r.name),
  lowerName: String(r.lower_name),
  compositeKey: String(r.composite_key ?? ''),
  isLead: Boolean(r.is_lead),
  sha256: String(r.sha256),
  size: num(r.size),
  digests: r.hash_md5 && r.hash_sha1 && r.hash_sha512 ? { md5: String(r.hash_md5), sha1: String(r.hash_sha1), sha512: String(r.hash_sha512) } : null,
  createdAt: date(r.created_at),
});

export const toOwnerFile = (r: Row): OwnerFileRecord => ({
  id: num(r.id),
  ownerId: num(r.owner_id),
  type: String(r.type),
  key: String(r.key),
  blobId: num(r.blob_id),
  sha256: String(r.sha256),
  size: num(r.size),
  properties: json(r.properties),
  createdAt: date(r.created_at),
});

export const toProperty = (r: Row): PropertyRecord => ({
  id: num(r.id),
  refType: r.ref_type as PropertyRecord['refType'],
  refId: num(r.ref_id),
  name: String(r.name),
  value: String(r.value),
});

export const FILE_COLUMNS = `f.id, f.version_id, f.blob_id, f.name, f.lower_name, f.composite_key, f.is_lead, f.created_at, b.sha256, b.size, b.hash_md5, b.hash_sha1, b.hash_sha512`;
export const OWNER_FILE_COLUMNS = `o.id, o.owner_id, o.type, o.key, o.blob_id, o.properties, o.created_at, b.sha256, b.size`;
