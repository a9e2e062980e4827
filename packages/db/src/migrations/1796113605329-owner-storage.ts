import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Storage accounting per owner (docs/quotas.md), kept by the database itself so that no
 * write path (the registry, a module's own SQL, a cascade from a deleted version or
 * package, a garbage collection) can forget it:
 *
 * - `package_file.owner_id`: the owner of a version file, filled in on insert. A cascaded
 *   delete (version → files) can no longer look the owner up through the deleted version.
 * - `package_owner_blob`: how many of an owner's files (version files and owner files)
 *   reference each blob. An owner is charged a blob's size once, however many of its files
 *   name it, and whatever other owners hold the same bytes.
 * - `owner_usage_delta`: one row per change of what an owner is charged (a blob the owner
 *   started or stopped holding), appended by the triggers. Appending touches no shared
 *   row, so concurrent uploads of one owner never queue on a counter; `tx` names the
 *   writing transaction, so a write finds its own changes for the quota check.
 * - `owner_storage`: the charged bytes per owner up to the last fold. An owner's usage is
 *   `used_bytes + sum(owner_usage_delta.bytes)`, read in one statement (one snapshot), and
 *   the fold moves deltas into `used_bytes` in one statement too.
 * - `owner_quota`: an administrator's quota for an owner. No row: the server's default
 *   (`FORGE_OWNER_QUOTA_BYTES`); a row with NULL: unlimited; a row with N: N bytes.
 */
export class OwnerStorage1796113605329 implements MigrationInterface {
  name = 'OwnerStorage1796113605329';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE package_file ADD COLUMN owner_id int;
      UPDATE package_file f SET owner_id = p.owner_id
        FROM package_version v JOIN package p ON p.id = v.package_id WHERE v.id = f.version_id;
      ALTER TABLE package_file ALTER COLUMN owner_id SET NOT NULL;

      CREATE TABLE package_owner_blob (
        owner_id int NOT NULL,
        blob_id int NOT NULL,
        refs int NOT NULL CHECK (refs >= 0),
        size bigint NOT NULL,
        PRIMARY KEY (owner_id, blob_id)
      );

      CREATE TABLE owner_usage_delta (
        id bigserial PRIMARY KEY,
        owner_id int NOT NULL,
        bytes bigint NOT NULL,
        tx bigint NOT NULL DEFAULT txid_current()
      );
      CREATE INDEX owner_usage_delta_owner_idx ON owner_usage_delta (owner_id);
      CREATE INDEX owner_usage_delta_tx_idx ON owner_usage_delta (tx);

      CREATE TABLE owner_storage (
        owner_id int PRIMARY KEY REFERENCES owner(id) ON DELETE CASCADE,
        used_bytes bigint NOT NULL DEFAULT 0
      );

      CREATE TABLE owner_quota (
        owner_id int PRIMARY KEY REFERENCES owner(id) ON DELETE CASCADE,
        limit_bytes bigint CHECK (limit_bytes IS NULL OR limit_bytes >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        updated_by varchar(40)
      );

      -- An owner starts or stops holding a blob: one reference more or less.
      CREATE FUNCTION forge_hold_blob(p_owner int, p_blob int, p_change int) RETURNS void AS $fn$
      DECLARE
        v_refs int;
        v_size bigint;
      BEGIN
        IF p_change > 0 THEN
          INSERT INTO package_owner_blob AS h (owner_id, blob_id, refs, size)
            SELECT p_owner, p_blob, 1, b.size FROM package_blob b WHERE b.id = p_blob
            ON CONFLICT (owner_id, blob_id) DO UPDATE SET refs = h.refs + 1
            RETURNING h.refs, h.size INTO v_refs, v_size;
          IF v_refs = 1 THEN
            INSERT INTO owner_usage_delta (owner_id, bytes) VALUES (p_owner, v_size);
          END IF;
        ELSE
          -- One statement that locks the row (and waits for a concurrent change of it), so
          -- no reference is lost; at zero the row goes, under that same lock.
          UPDATE package_owner_blob SET refs = refs - 1 WHERE owner_id = p_owner AND blob_id = p_blob
            RETURNING refs, size INTO v_refs, v_size;
          IF v_refs = 0 THEN
            DELETE FROM package_owner_blob WHERE owner_id = p_owner AND blob_id = p_blob;
            INSERT INTO owner_usage_delta (owner_id, bytes) VALUES (p_owner, -v_size);
          END IF;
        END IF;
      END
      $fn$ LANGUAGE plpgsql;

      CREATE FUNCTION forge_package_file_owner() RETURNS trigger AS $fn$
      BEGIN
        SELECT p.owner_id INTO NEW.owner_id FROM package_version v JOIN package p ON p.id = v.package_id WHERE v.id = NEW.version_id;
        RETURN NEW;
      END
      $fn$ LANGUAGE plpgsql;
      CREATE TRIGGER package_file_owner BEFORE INSERT OR UPDATE OF version_id ON package_file
        FOR EACH ROW EXECUTE FUNCTION forge_package_file_owner();

      CREATE FUNCTION forge_file_holds_blob() RETURNS trigger AS $fn$
      BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') THEN
          PERFORM forge_hold_blob(OLD.owner_id, OLD.blob_id, -1);
        END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') THEN
          PERFORM forge_hold_blob(NEW.owner_id, NEW.blob_id, 1);
        END IF;
        RETURN NULL;
      END
      $fn$ LANGUAGE plpgsql;
      -- UPDATE: only when the blob or the owner changes (a replaced file, putOwnerFile's upsert).
      CREATE TRIGGER package_file_holds_blob AFTER INSERT OR DELETE ON package_file
        FOR EACH ROW EXECUTE FUNCTION forge_file_holds_blob();
      CREATE TRIGGER package_file_holds_blob_update AFTER UPDATE OF blob_id, owner_id ON package_file
        FOR EACH ROW WHEN (OLD.blob_id IS DISTINCT FROM NEW.blob_id OR OLD.owner_id IS DISTINCT FROM NEW.owner_id)
        EXECUTE FUNCTION forge_file_holds_blob();
      CREATE TRIGGER package_owner_file_holds_blob AFTER INSERT OR DELETE ON package_owner_file
        FOR EACH ROW EXECUTE FUNCTION forge_file_holds_blob();
      CREATE TRIGGER package_owner_file_holds_blob_update AFTER UPDATE OF blob_id, owner_id ON package_owner_file
        FOR EACH ROW WHEN (OLD.blob_id IS DISTINCT FROM NEW.blob_id OR OLD.owner_id IS DISTINCT FROM NEW.owner_id)
        EXECUTE FUNCTION forge_file_holds_blob();

      -- What is stored already.
      INSERT INTO package_owner_blob (owner_id, blob_id, refs, size)
        SELECT r.owner_id, r.blob_id, count(*), b.size FROM (
          SELECT owner_id, blob_id FROM package_file
          UNION ALL SELECT owner_id, blob_id FROM package_owner_file) r
        JOIN package_blob b ON b.id = r.blob_id GROUP BY r.owner_id, r.blob_id, b.size;
      INSERT INTO owner_storage (owner_id, used_bytes)
        SELECT owner_id, sum(size) FROM package_owner_blob GROUP BY owner_id;
    `);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DROP TRIGGER package_owner_file_holds_blob_update ON package_owner_file;
      DROP TRIGGER package_owner_file_holds_blob ON package_owner_file;
      DROP TRIGGER package_file_holds_blob_update ON package_file;
      DROP TRIGGER package_file_holds_blob ON package_file;
      DROP TRIGGER package_file_owner ON package_file;
      DROP FUNCTION forge_file_holds_blob(), forge_package_file_owner(), forge_hold_blob(int, int, int);
      DROP TABLE owner_quota, owner_storage, owner_usage_delta, package_owner_blob;
      ALTER TABLE package_file DROP COLUMN owner_id;
    `);
  }
}
