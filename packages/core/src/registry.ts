import type { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import type { BlobDigests, ByteRange, StagedBlob, StageOptions } from './blob-store.js';
import type { StorageStatus } from './quota.js';

export interface PackageRecord {
  id: number;
  ownerId: number;
  /** Package type: the module id, e.g. `nix`, `generic`. */
  type: string;
  name: string;
  lowerName: string;
  createdAt: Date;
}

export interface VersionRecord {
  id: number;
  packageId: number;
  version: string;
  lowerVersion: string;
  /** Type-specific metadata, stored as JSON. */
  metadata: Record<string, unknown>;
  creatorId: number | null;
  createdAt: Date;
}

export interface BlobRecord {
  id: number;
  sha256: string;
  size: number;
  createdAt: Date;
}

export interface FileRecord {
  id: number;
  versionId: number;
  blobId: number;
  name: string;
  lowerName: string;
  /** Disambiguates files of one name in one version (Gitea's composite key); '' by default. */
  compositeKey: string;
  isLead: boolean;
  sha256: string;
  size: number;
  /** md5, sha1 and sha512 of the blob, when it was staged with them (`StageOptions.extraDigests`). */
  digests?: BlobDigests | null;
  createdAt: Date;
}

/**
 * A blob an owner holds under a package type outside any version: a Nix NAR before its
 * narinfo arrives, a build log keyed by derivation, a debuginfo pointer. Holding one is
 * what makes content visible in that owner's namespace; blob dedupe stays invisible.
 */
export interface OwnerFileRecord {
  id: number;
  ownerId: number;
  type: string;
  key: string;
  blobId: number;
  sha256: string;
  size: number;
  properties: Record<string, unknown>;
  createdAt: Date;
}

export type PropertyTarget = 'package' | 'version' | 'file';

export interface PropertyRecord {
  id: number;
  refType: PropertyTarget;
  refId: number;
  name: string;
  value: string;
}

/** A blob to reference: freshly staged bytes, or a blob the registry already holds. */
export type BlobSource = StagedBlob | BlobRecord;

export interface NewFile {
  versionId: number;
  name: string;
  compositeKey?: string;
  isLead?: boolean;
  blob: BlobSource;
}

/**
 * The operations available inside one registry write. Everything done through it (and
 * through `manager`, for a module's own tables) commits or rolls back together. Staged
 * blobs were stored at their content address before the transaction began (see
 * `RegistryService.write`).
 */
export interface RegistryTransaction {
  /** For the module's own tables, inside the same transaction. */
  readonly manager: EntityManager;
  getOrCreatePackage(input: { ownerId: number; type: string; name: string }): Promise<PackageRecord>;
  /** ConflictError when the version exists. */
  createVersion(input: { packageId: number; version: string; metadata?: Record<string, unknown>; creatorId?: number | null }): Promise<VersionRecord>;
  getOrCreateVersion(input: { packageId: number; version: string; metadata?: Record<string, unknown>; creatorId?: number | null }): Promise<{ version: VersionRecord; created: boolean }>;
  updateVersionMetadata(versionId: number, metadata: Record<string, unknown>): Promise<void>;
  /** ConflictError when a file of that name (and composite key) exists in the version. */
  addFile(file: NewFile): Promise<FileRecord>;
  /** Like addFile, but replaces an existing file of the same name. */
  putFile(file: NewFile): Promise<FileRecord>;
  deleteFile(fileId: number): Promise<void>;
  /** Deletes a version with its files and properties; the package goes with its last version. */
  deleteVersion(versionId: number): Promise<void>;
  /** Insert-or-replace an owner file under (owner, type, key). */
  putOwnerFile(input: { ownerId: number; type: string; key: string; blob: BlobSource; properties?: Record<string, unknown> }): Promise<OwnerFileRecord>;
  deleteOwnerFile(input: { ownerId: number; type: string; key: string }): Promise<boolean>;
  setProperty(refType: PropertyTarget, refId: number, name: string, value: string): Promise<void>;
  /** Registers a blob row (dedupe by sha256) for staged bytes, or returns the existing one. */
  useBlob(blob: BlobSource): Promise<BlobRecord>;
}

export interface ListPackagesQuery {
  ownerId: number;
  type?: string;
  /** Only packages of these types (the ones the caller may read). */
  types?: readonly string[];
  /** Substring of the package name, case-insensitive. */
  query?: string;
  /** The package name exactly (case-insensitive). */
  name?: string;
  offset?: number;
  limit?: number;
}

/** One version with its package, as Gitea's package API lists them (newest first). */
export interface VersionListing {
  package: PackageRecord;
  version: VersionRecord;
}

/** A package as package lists show it. */
export interface PackageSummary {
  versions: number;
  /** The newest version (by creation time), or null when it has none. */
  latest: VersionRecord | null;
}

/** A version as version lists show it. */
export interface VersionSummary {
  files: number;
  /** Bytes of its files, counted once per file. */
  size: number;
}

export interface OwnerUsage {
  /** Bytes of all files held by the owner, counted once per reference. */
  referencedBytes: number;
  /** Bytes of the distinct blobs held by the owner. */
  distinctBytes: number;
  files: number;
}

export interface RegistryStageOptions extends StageOptions {
  /**
   * Whose upload this is: an owner at its quota is refused before the body is read, and
   * the upload is cut off once it is larger than the room left (QuotaExceededError, 403).
   */
  ownerId?: number;
}

/**
 * The one write path (Gitea's CreatePackageAndAddFile, generalised). Handlers parse and
 * validate; the registry owns transactions, quotas, blob dedupe and cleanup.
 */
export interface RegistryService {
  /** Streams bytes into the blob store's staging area (hashing as they arrive). */
  stageBlob(source: AsyncIterable<Uint8Array>, options?: RegistryStageOptions): Promise<StagedBlob>;
  /**
   * Runs `work` in one transaction. The staged blobs it will use must be named in
   * `staged` (`discardOnFailure` is the older name of the same list): they are promoted
   * (stored at their content address; on S3 an upload) **before** the transaction begins,
   * so no row lock is held while gigabytes move, and their staged copies are discarded
   * when the write is over, whatever its outcome. A blob that a concurrent cleanup removed
   * between its promote and this transaction's row lock is promoted again and `work` runs
   * again (docs/blob-store.md): keep side effects other than database writes out of it.
   */
  write<T>(work: (tx: RegistryTransaction) => Promise<T>, options?: { staged?: StagedBlob[]; discardOnFailure?: StagedBlob[] }): Promise<T>;
  /** Convenience for the common case: package + version (created if needed) + one file. */
  createPackageAndAddFile(input: {
    ownerId: number;
    type: string;
    name: string;
    version: string;
    metadata?: Record<string, unknown>;
    creatorId?: number | null;
    file: { name: string; compositeKey?: string; isLead?: boolean; blob: StagedBlob };
  }): Promise<{ package: PackageRecord; version: VersionRecord; file: FileRecord }>;

  getPackage(ownerId: number, type: string, name: string): Promise<PackageRecord | null>;
  getPackageById(id: number): Promise<PackageRecord | null>;
  listPackages(query: ListPackagesQuery): Promise<{ items: PackageRecord[]; total: number }>;
  /** Versions of an owner's packages, newest first, filtered like `listPackages` (Gitea's package list is one of versions). */
  searchVersions(query: ListPackagesQuery): Promise<{ items: VersionListing[]; total: number }>;
  getVersion(packageId: number, version: string): Promise<VersionRecord | null>;
  getVersionById(id: number): Promise<VersionRecord | null>;
  listVersions(packageId: number): Promise<VersionRecord[]>;
  /** Version count and newest version of each package (for package lists; every id is present). */
  summarizePackages(packageIds: number[]): Promise<Map<number, PackageSummary>>;
  /** File count and size of each version (for version lists; every id is present). */
  summarizeVersions(versionIds: number[]): Promise<Map<number, VersionSummary>>;
  listFiles(versionId: number): Promise<FileRecord[]>;
  getFile(versionId: number, name: string, compositeKey?: string): Promise<FileRecord | null>;
  getOwnerFile(ownerId: number, type: string, key: string): Promise<OwnerFileRecord | null>;
  /** Several owner files in one query, by key (absent keys are missing from the map). */
  getOwnerFiles(ownerId: number, type: string, keys: readonly string[]): Promise<Map<string, OwnerFileRecord>>;
  getProperties(refType: PropertyTarget, refId: number): Promise<PropertyRecord[]>;
  /** Opens a stored blob (optionally a byte range). */
  openBlob(sha256: string, range?: ByteRange): Promise<Readable>;
  ownerUsage(ownerId: number, type?: string): Promise<OwnerUsage>;
  /**
   * What the owner is charged (its distinct blobs, counted by the database on every write)
   * and its quota: cheap enough for every page (docs/quotas.md).
   */
  storageStatus(ownerId: number): Promise<StorageStatus>;
}
