import type { DataSource } from 'typeorm';
import { queryRows } from '@forge/core';
import type { CleanupRule, VersionCandidate } from './rules.js';

/** The SQL of cleanup rules and of the versions they judge (generic packages only). */
export class CleanupRuleStore {
  constructor(private readonly db: DataSource) {}

  async get(ownerId: number): Promise<CleanupRule | null> {
    const [row] = await queryRows<Record<string, unknown>>(this.db, `SELECT * FROM generic_cleanup_rule WHERE owner_id = $1`, [ownerId]);
    return row ? toRule(row) : null;
  }

  async put(ownerId: number, rule: CleanupRule): Promise<void> {
    await this.db.query(
      `INSERT INTO generic_cleanup_rule (owner_id, enabled, keep_count, keep_pattern, remove_older_than_ms, remove_pattern, match_full_name)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (owner_id) DO UPDATE SET enabled = EXCLUDED.enabled, keep_count = EXCLUDED.keep_count, keep_pattern = EXCLUDED.keep_pattern,
         remove_older_than_ms = EXCLUDED.remove_older_than_ms, remove_pattern = EXCLUDED.remove_pattern,
         match_full_name = EXCLUDED.match_full_name, updated_at = now()`,
      [ownerId, rule.enabled, rule.keepCount, rule.keepPattern, rule.removeOlderThanMs, rule.removePattern, rule.matchFullName],
    );
  }

  async delete(ownerId: number): Promise<boolean> {
    return (await queryRows(this.db, `DELETE FROM generic_cleanup_rule WHERE owner_id = $1 RETURNING owner_id`, [ownerId])).length > 0;
  }

  /** Owners whose rule is enabled (the scheduled run's list). */
  async enabledOwners(): Promise<number[]> {
    const rows = await queryRows<{ owner_id: number }>(this.db, `SELECT owner_id FROM generic_cleanup_rule WHERE enabled ORDER BY owner_id`);
    return rows.map((r) => Number(r.owner_id));
  }

  /** The owner's generic packages after `afterId`, a batch at a time (ids ascending). */
  async packages(ownerId: number, afterId: number, limit: number): Promise<Array<{ id: number; name: string }>> {
    const rows = await queryRows<{ id: number; name: string }>(
      this.db,
      `SELECT id, name FROM package WHERE owner_id = $1 AND type = 'generic' AND id > $2 ORDER BY id LIMIT ${limit}`,
      [ownerId, afterId],
    );
    return rows.map((r) => ({ id: Number(r.id), name: String(r.name) }));
  }

  /** Every version of these packages with its size (bytes of its files). */
  async versions(packages: Array<{ id: number; name: string }>): Promise<StoredVersion[]> {
    if (packages.length === 0) return [];
    const names = new Map(packages.map((p) => [p.id, p.name]));
    const rows = await queryRows<{ id: number; package_id: number; version: string; created_at: Date; size: string | number }>(
      this.db,
      `SELECT v.id, v.package_id, v.version, v.created_at,
              coalesce((SELECT sum(b.size) FROM package_file f JOIN package_blob b ON b.id = f.blob_id WHERE f.version_id = v.id), 0) AS size
       FROM package_version v WHERE v.package_id = ANY($1::int[])`,
      [packages.map((p) => p.id)],
    );
    return rows.map((r) => ({
      versionId: Number(r.id),
      packageId: Number(r.package_id),
      packageName: names.get(Number(r.package_id))!,
      version: String(r.version),
      createdAt: new Date(r.created_at),
      size: Number(r.size),
    }));
  }
}

export interface StoredVersion extends VersionCandidate {
  versionId: number;
  packageId: number;
  size: number;
}

function toRule(row: Record<string, unknown>): CleanupRule {
  return {
    enabled: row.enabled === true,
    keepCount: Number(row.keep_count),
    keepPattern: String(row.keep_pattern),
    removeOlderThanMs: Number(row.remove_older_than_ms),
    removePattern: String(row.remove_pattern),
    matchFullName: row.match_full_name === true,
  };
}
