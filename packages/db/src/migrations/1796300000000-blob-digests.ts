import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * md5, sha1 and sha512 of a blob, beside its sha256 (its content address), for Gitea's
 * package file API. Null when the blob was stored without them: uploads that ask for them
 * (the generic package type) compute them while staging; the Nix cache's NARs, logs and
 * listings do not (docs/api.md). A later upload of the same bytes that has them fills them in.
 */
export class BlobDigests1796300000000 implements MigrationInterface {
  name = 'BlobDigests1796300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE package_blob
        ADD COLUMN hash_md5 char(32),
        ADD COLUMN hash_sha1 char(40),
        ADD COLUMN hash_sha512 char(128);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE package_blob DROP COLUMN hash_md5, DROP COLUMN hash_sha1, DROP COLUMN hash_sha512`);
  }
}
