import { EntitySchema } from 'typeorm';
import type { BlobRecord, OrgRole, OwnerType, Visibility } from '@forge/core';

/**
 * The host's tables that are used through TypeORM repositories, as entity schemas (no
 * decorators: the schema is data, and the same definitions serve PGlite and PostgreSQL).
 * Columns are snake_case in SQL and camelCase in code. The package tables are queried
 * with SQL by the registry (packages/registry); the schema itself is created by
 * migrations, never by `synchronize`.
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

/** Used by the database tests to check that both drivers agree (bigint sizes, unique violations). */
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

export const hostEntities = [
  OwnerEntity,
  OrgMemberEntity,
  AccessTokenEntity,
  OwnerKeyEntity,
  PackageBlobEntity,
];
