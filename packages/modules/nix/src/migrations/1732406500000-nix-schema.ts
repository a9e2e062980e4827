import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The Nix module's own tables. Store paths are package versions in the host's tables;
 * these are the lookups Nix needs (hash part → path, references, referrers, signatures),
 * indexed so a lookup costs the same at a thousand paths as at a million.
 */
export class NixSchema1732406500000 implements MigrationInterface {
  name = 'NixSchema1732406500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE nix_cache (
        owner_id int PRIMARY KEY REFERENCES owner(id) ON DELETE CASCADE,
        priority int NOT NULL DEFAULT 40,
        visibility varchar(8) NOT NULL DEFAULT 'inherit' CHECK (visibility IN ('inherit', 'public', 'private')),
        want_mass_query boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now()
      );

      CREATE TABLE nix_trusted_key (
        id serial PRIMARY KEY,
        owner_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        name varchar(255) NOT NULL,
        public_key varchar(255) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner_id, name)
      );

      CREATE TABLE nix_store_path (
        id serial PRIMARY KEY,
        owner_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        hash_part char(32) NOT NULL,
        name varchar(211) NOT NULL,
        version_id int NOT NULL REFERENCES package_version(id) ON DELETE CASCADE,
        url varchar(255) NOT NULL,
        compression varchar(16) NOT NULL,
        file_hash char(52) NOT NULL,
        file_size bigint NOT NULL,
        nar_hash char(52) NOT NULL,
        nar_size bigint NOT NULL,
        nar_blob_id int NOT NULL REFERENCES package_blob(id),
        deriver varchar(255),
        system varchar(64),
        ca text,
        refs text NOT NULL DEFAULT '',
        sigs text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        last_accessed_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner_id, hash_part)
      );
      CREATE INDEX nix_store_path_created_idx ON nix_store_path (owner_id, created_at DESC, id DESC);
      CREATE INDEX nix_store_path_name_idx ON nix_store_path (owner_id, name, id);
      CREATE INDEX nix_store_path_size_idx ON nix_store_path (owner_id, nar_size DESC, id DESC);
      CREATE INDEX nix_store_path_deriver_idx ON nix_store_path (owner_id, deriver) WHERE deriver IS NOT NULL;
      CREATE INDEX nix_store_path_version_idx ON nix_store_path (version_id);
      CREATE INDEX nix_store_path_url_idx ON nix_store_path (owner_id, url);

      CREATE TABLE nix_reference (
        path_id int NOT NULL REFERENCES nix_store_path(id) ON DELETE CASCADE,
        owner_id int NOT NULL,
        ref_hash char(32) NOT NULL,
        PRIMARY KEY (path_id, ref_hash)
      );
      CREATE INDEX nix_reference_referrers_idx ON nix_reference (owner_id, ref_hash);

      CREATE TABLE nix_path_signature (
        path_id int NOT NULL REFERENCES nix_store_path(id) ON DELETE CASCADE,
        key_id int NOT NULL REFERENCES owner_key(id) ON DELETE CASCADE,
        sig varchar(255) NOT NULL,
        PRIMARY KEY (path_id, key_id)
      );
      CREATE INDEX nix_path_signature_key_idx ON nix_path_signature (key_id);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE nix_path_signature, nix_reference, nix_store_path, nix_trusted_key, nix_cache`);
  }
}
