import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Upstream caches per owner cache (docs/nix-cache.md#upstream-caches), and provenance of
 * a store path: the name of the token that pushed it (the user is the version's creator)
 * or the upstream it was pulled through from.
 */
export class NixUpstreams1796300000000 implements MigrationInterface {
  name = 'NixUpstreams1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE nix_upstream (
        id serial PRIMARY KEY,
        owner_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        position int NOT NULL,
        url varchar(255) NOT NULL,
        public_keys text NOT NULL DEFAULT '',
        mode varchar(16) NOT NULL DEFAULT 'skip' CHECK (mode IN ('skip', 'pull-through')),
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner_id, url)
      );
      CREATE INDEX nix_upstream_owner_idx ON nix_upstream (owner_id, position);

      ALTER TABLE nix_store_path ADD COLUMN token_name varchar(255);
      ALTER TABLE nix_store_path ADD COLUMN pulled_from varchar(255);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE nix_store_path DROP COLUMN pulled_from;
      ALTER TABLE nix_store_path DROP COLUMN token_name;
      DROP TABLE nix_upstream;
    `);
  }
}
