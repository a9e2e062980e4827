import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Gitea's package cleanup rules, one per owner, for generic packages (docs/quotas.md, "Cleanup rules"). */
export class GenericCleanupRule1796120000000 implements MigrationInterface {
  name = 'GenericCleanupRule1796120000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE generic_cleanup_rule (
        owner_id int PRIMARY KEY REFERENCES owner(id) ON DELETE CASCADE,
        enabled boolean NOT NULL,
        keep_count int NOT NULL,
        keep_pattern varchar(256) NOT NULL,
        remove_older_than_ms bigint NOT NULL,
        remove_pattern varchar(256) NOT NULL,
        match_full_name boolean NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE generic_cleanup_rule`);
  }
}
