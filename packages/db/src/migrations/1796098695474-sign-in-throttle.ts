import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Failed sign-ins counted per account and per client address, shared by every server
 * process on the database (see `SignInThrottle` in @forge/auth). A row is one key's
 * current window; rows of windows long past are deleted as sign-ins go by.
 */
export class SignInThrottle1796098695474 implements MigrationInterface {
  name = 'SignInThrottle1796098695474';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE sign_in_throttle (
        key varchar(300) PRIMARY KEY,
        failures int NOT NULL,
        window_start timestamptz NOT NULL
      );
      CREATE INDEX sign_in_throttle_window_idx ON sign_in_throttle (window_start);
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE sign_in_throttle`);
  }
}
