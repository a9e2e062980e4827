import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Storage lifecycle (docs/garbage-collection.md): a cache's retention and size limit, and
 * pins (named roots that garbage collection never takes) with the history of the store
 * paths each pin named.
 */
export class NixLifecycle1796200000000 implements MigrationInterface {
  name = 'NixLifecycle1796200000000';
  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE nix_cache ADD COLUMN retention_ms bigint, ADD COLUMN max_size bigint;
      CREATE TABLE nix_pin (
        id serial PRIMARY KEY,
        owner_id int NOT NULL REFERENCES owner(id) ON DELETE CASCADE,
        name varchar(100) NOT NULL,
        hash_part char(32) NOT NULL,
        store_path varchar(255) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (owner_id, name)
      );
      CREATE INDEX nix_pin_path_idx ON nix_pin (owner_id, hash_part);
      CREATE TABLE nix_pin_history (
        id serial PRIMARY KEY,
        pin_id int NOT NULL REFERENCES nix_pin(id) ON DELETE CASCADE,
        store_path varchar(255) NOT NULL,
        pinned_by int REFERENCES owner(id) ON DELETE SET NULL,
        pinned_at timestamptz NOT NULL DEFAULT now()
      );
      CREATE INDEX nix_pin_history_pin_idx ON nix_pin_history (pin_id, id DESC);
    `);
  }
  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE nix_pin_history, nix_pin; ALTER TABLE nix_cache DROP COLUMN retention_ms, DROP COLUMN max_size`);
  }
}
