import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The host's tables: owners, memberships, tokens, keys, and Gitea's five package tables. */
export class HostSchema1732406400000 implements MigrationInterface {
  name = 'HostSchema1732406400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE owner (
        id serial PRIMARY KEY,
        name varchar(40) NOT NULL,
        lower_name varchar(40) NOT NULL UNIQUE,
        type varchar(8) NOT NULL CHECK (type IN ('user', 'org')),
        visibility varchar(8) NOT NULL DEFAULT 'public' CHECK (visibility IN ('public', 'private')),
        email varchar(255),
        password_hash varchar(255),
        is_admin boolean NOT NULL DEFAULT false,
        full_name varchar(255) NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE UNIQUE INDEX owner_email_idx ON owner (lower(email)) WHERE email IS NOT NULL;

      CREATE TABLE org_member (
        org_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        user_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        role varchar(8) NOT NULL CHECK (role IN ('read', 'write', 'admin')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (org_id, user_id)
      );
      CREATE INDEX org_member_user_idx ON org_member (user_id);

      CREATE TABLE access_token (
        id serial PRIMARY KEY,
        user_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        name varchar(255) NOT NULL,
        token_hash char(64) NOT NULL UNIQUE,
        token_last_eight varchar(8) NOT NULL,
        scopes text NOT NULL,
        expires_at timestamptz,
        last_used_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (user_id, name)
      );

      CREATE TABLE owner_key (
        id serial PRIMARY KEY,
        owner_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        purpose varchar(32) NOT NULL,
        name varchar(255) NOT NULL,
        public_key text NOT NULL,
        secret_key_enc text NOT NULL,
        active boolean NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        retired_at timestamptz
      );
      CREATE UNIQUE INDEX owner_key_active_idx ON owner_key (owner_id, purpose) WHERE active;
      CREATE INDEX owner_key_owner_idx ON owner_key (owner_id, purpose);

      CREATE TABLE package (
        id serial PRIMARY KEY,
        owner_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        type varchar(32) NOT NULL,
        name varchar(255) NOT NULL,
        lower_name varchar(255) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner_id, type, lower_name)
      );

      CREATE TABLE package_version (
        id serial PRIMARY KEY,
        package_id int NOT NULL REFERENCES package(id) ON DELETE CASCADE,
        version varchar(255) NOT NULL,
        lower_version varchar(255) NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        creator_id int REFERENCES owner(id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (package_id, lower_version)
      );

      CREATE TABLE package_blob (
        id serial PRIMARY KEY,
        sha256 char(64) NOT NULL UNIQUE,
        size bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE package_file (
        id serial PRIMARY KEY,
        version_id int NOT NULL REFERENCES package_version(id) ON DELETE CASCADE,
        blob_id int NOT NULL REFERENCES package_blob(id),
        name varchar(255) NOT NULL,
        lower_name varchar(255) NOT NULL,
        composite_key varchar(255) NOT NULL DEFAULT '',
        is_lead boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (version_id, lower_name, composite_key)
      );
      CREATE INDEX package_file_blob_idx ON package_file (blob_id);

      CREATE TABLE package_owner_file (
        id serial PRIMARY KEY,
        owner_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        type varchar(32) NOT NULL,
        key varchar(1024) NOT NULL,
        blob_id int NOT NULL REFERENCES package_blob(id),
        properties jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner_id, type, key)
      );
      CREATE INDEX package_owner_file_blob_idx ON package_owner_file (blob_id);

      CREATE TABLE package_property (
        id serial PRIMARY KEY,
        ref_type varchar(8) NOT NULL CHECK (ref_type IN ('package', 'version', 'file')),
        ref_id int NOT NULL,
        name varchar(255) NOT NULL,
        value text NOT NULL
      );
      CREATE INDEX package_property_ref_idx ON package_property (ref_type, ref_id);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TABLE package_property, package_owner_file, package_file, package_blob,
        package_version, package, owner_key, access_token, org_member, owner;
    `);
  }
}
