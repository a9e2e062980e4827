import { EntitySchema } from 'typeorm';
import type {
  BlobRecord,
  FileRecord,
  OrgRole,
  OwnerFileRecord,
  OwnerType,
  PackageRecord,
  PropertyRecord,
  PropertyTarget,
  VersionRecord,
  Visibility,
} from '@forge/core';

/**
 * The host's tables, as TypeORM entity schemas (no decorators: the schema is data, and
 * the same definitions serve PGlite and PostgreSQL). Columns are snake_case in SQL and
 * camelCase in code. The schema itself is created by migrations, never by `synchronize`.
 */

const createdAt = { name: 'created_at', type: 'timestamptz', createDate: true } as const;

export interface OwnerRow {
  id: number;
  name: string;
  lowerName: string;
  type: OwnerType;
  visibility: Visibility;
  email: string | null;
  passwordHash: string | null;
  isAdmin: boolean;
  fullName: string;
  createdAt: Date;
}

export const OwnerEntity = new EntitySchema<OwnerRow>({
  name: 'Owner',
  tableName: 'owner',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    name: { type: 'varchar', length: 40 },
    lowerName: { name: 'lower_name', type: 'varchar', length: 40, unique: true },
    type: { type: 'varchar', length: 8 },
    visibility: { type: 'varchar', length: 8 },
    email: { type: 'varchar', length: 255, nullable: true },
    passwordHash: { name: 'password_hash', type: 'varchar', length: 255, nullable: true },
    isAdmin: { name: 'is_admin', type: 'boolean', default: false },
    fullName: { name: 'full_name', type: 'varchar', length: 255, default: '' },
    createdAt,
  },
});

export interface OrgMemberRow {
  orgId: number;
  userId: number;
  role: OrgRole;
  createdAt: Date;
}

export const OrgMemberEntity = new EntitySchema<OrgMemberRow>({
  name: 'OrgMember',
  tableName: 'org_member',
  columns: {
    orgId: { name: 'org_id', type: 'int', primary: true },
    userId: { name: 'user_id', type: 'int', primary: true },
    role: { type: 'varchar', length: 8 },
    createdAt,
  },
});

export interface AccessTokenRow {
  id: number;
  userId: number;
  name: string;
  /** sha256 hex of the token; the token itself is shown once and never stored. */
  tokenHash: string;
  /** Last eight characters, so users can tell their tokens apart (as Gitea does). */
  tokenLastEight: string;
  /** Comma-separated scopes. */
  scopes: string;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

export const AccessTokenEntity = new EntitySchema<AccessTokenRow>({
  name: 'AccessToken',
  tableName: 'access_token',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    userId: { name: 'user_id', type: 'int' },
    name: { type: 'varchar', length: 255 },
    tokenHash: { name: 'token_hash', type: 'char', length: 64, unique: true },
    tokenLastEight: { name: 'token_last_eight', type: 'varchar', length: 8 },
    scopes: { type: 'text' },
    expiresAt: { name: 'expires_at', type: 'timestamptz', nullable: true },
    lastUsedAt: { name: 'last_used_at', type: 'timestamptz', nullable: true },
    createdAt,
  },
});

export interface OwnerKeyRow {
  id: number;
  ownerId: number;
  purpose: string;
  name: string;
  publicKey: string;
  /** AES-256-GCM encrypted with the server secret. */
  secretKeyEnc: string;
  active: boolean;
  createdAt: Date;
  retiredAt: Date | null;
}

export const OwnerKeyEntity = new EntitySchema<OwnerKeyRow>({
  name: 'OwnerKey',
  tableName: 'owner_key',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    ownerId: { name: 'owner_id', type: 'int' },
    purpose: { type: 'varchar', length: 32 },
    name: { type: 'varchar', length: 255 },
    publicKey: { name: 'public_key', type: 'text' },
    secretKeyEnc: { name: 'secret_key_enc', type: 'text' },
    active: { type: 'boolean' },
    createdAt,
    retiredAt: { name: 'retired_at', type: 'timestamptz', nullable: true },
  },
});

export const PackageEntity = new EntitySchema<PackageRecord>({
  name: 'Package',
  tableName: 'package',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    ownerId: { name: 'owner_id', type: 'int' },
    type: { type: 'varchar', length: 32 },
    name: { type: 'varchar', length: 255 },
    lowerName: { name: 'lower_name', type: 'varchar', length: 255 },
    createdAt,
  },
});

export const PackageVersionEntity = new EntitySchema<VersionRecord>({
  name: 'PackageVersion',
  tableName: 'package_version',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    packageId: { name: 'package_id', type: 'int' },
    version: { type: 'varchar', length: 255 },
    lowerVersion: { name: 'lower_version', type: 'varchar', length: 255 },
    metadata: { type: 'jsonb' },
    creatorId: { name: 'creator_id', type: 'int', nullable: true },
    createdAt,
  },
});

export const PackageBlobEntity = new EntitySchema<BlobRecord>({
  name: 'PackageBlob',
  tableName: 'package_blob',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    sha256: { type: 'char', length: 64, unique: true },
    size: { type: 'bigint' },
    createdAt,
  },
});

export type FileRow = Omit<FileRecord, 'sha256' | 'size'>;

export const PackageFileEntity = new EntitySchema<FileRow>({
  name: 'PackageFile',
  tableName: 'package_file',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    versionId: { name: 'version_id', type: 'int' },
    blobId: { name: 'blob_id', type: 'int' },
    name: { type: 'varchar', length: 255 },
    lowerName: { name: 'lower_name', type: 'varchar', length: 255 },
    compositeKey: { name: 'composite_key', type: 'varchar', length: 255, default: '' },
    isLead: { name: 'is_lead', type: 'boolean', default: false },
    createdAt,
  },
});

export type OwnerFileRow = Omit<OwnerFileRecord, 'sha256' | 'size'>;

export const PackageOwnerFileEntity = new EntitySchema<OwnerFileRow>({
  name: 'PackageOwnerFile',
  tableName: 'package_owner_file',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    ownerId: { name: 'owner_id', type: 'int' },
    type: { type: 'varchar', length: 32 },
    key: { type: 'varchar', length: 1024 },
    blobId: { name: 'blob_id', type: 'int' },
    properties: { type: 'jsonb' },
    createdAt,
  },
});

export const PackagePropertyEntity = new EntitySchema<PropertyRecord>({
  name: 'PackageProperty',
  tableName: 'package_property',
  columns: {
    id: { type: 'int', primary: true, generated: 'increment' },
    refType: { name: 'ref_type', type: 'varchar', length: 8 },
    refId: { name: 'ref_id', type: 'int' },
    name: { type: 'varchar', length: 255 },
    value: { type: 'text' },
  },
});

export type { PropertyTarget };

export const hostEntities = [
  OwnerEntity,
  OrgMemberEntity,
  AccessTokenEntity,
  OwnerKeyEntity,
  PackageEntity,
  PackageVersionEntity,
  PackageBlobEntity,
  PackageFileEntity,
  PackageOwnerFileEntity,
  PackagePropertyEntity,
];
