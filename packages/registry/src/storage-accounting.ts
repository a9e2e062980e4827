import type { EntityManager, DataSource } from 'typeorm';
import { quotaLevel, type StorageStatus } from '@forge/core';
import { queryRows } from '@forge/db';

/**
 * The SQL of storage accounting and quotas (tables and triggers: the OwnerStorage
 * migration in @forge/db; the rules: docs/quotas.md). The triggers record every change of
 * what an owner is charged in `owner_usage_delta`; usage is `owner_storage.used_bytes`
 * plus the deltas not folded yet, always read in one statement.
 */

type Queryable = DataSource | EntityManager;

/** Arbitrary constant: the first key of the per-owner advisory lock of the quota check. */
const QUOTA_LOCK_CLASS = 0x71756f74; // "quot"

export interface QuotaRow {
  /** Whether the owner has its own setting (else the server default applies). */
  set: boolean;
  /** The owner's own limit when set; null there means unlimited. */
  limitBytes: number | null;
}

/** The usage expression for the owner id given as `$1`. */
const USAGE_SQL = `coalesce((SELECT s.used_bytes FROM owner_storage s WHERE s.owner_id = $1), 0)
  + coalesce((SELECT sum(d.bytes) FROM owner_usage_delta d WHERE d.owner_id = $1), 0)`;

export class StorageAccounting {
  constructor(
    private readonly ds: DataSource,
    /** `FORGE_OWNER_QUOTA_BYTES`: the limit of owners without their own setting. */
    private readonly defaultLimitBytes: number | undefined,
  ) {}

  /** The limit that applies, and where it comes from. */
  effectiveLimit(row: QuotaRow | undefined): { limitBytes: number | null; source: StorageStatus['source'] } {
    if (row?.set) return { limitBytes: row.limitBytes, source: 'owner' };
    if (this.defaultLimitBytes !== undefined) return { limitBytes: this.defaultLimitBytes, source: 'default' };
    return { limitBytes: null, source: 'none' };
  }

  async status(ownerId: number, db: Queryable = this.ds): Promise<StorageStatus> {
    const [row] = await queryRows<{ used: string | number; set: boolean; limit_bytes: string | number | null }>(
      db,
      `SELECT ${USAGE_SQL} AS used, q.owner_id IS NOT NULL AS set, q.limit_bytes
       FROM (SELECT 1) one LEFT JOIN owner_quota q ON q.owner_id = $1`,
      [ownerId],
    );
    return this.toStatus(ownerId, Number(row?.used ?? 0), row ? { set: row.set === true, limitBytes: nullableNumber(row.limit_bytes) } : undefined);
  }

  toStatus(ownerId: number, usedBytes: number, row: QuotaRow | undefined): StorageStatus {
    const { limitBytes, source } = this.effectiveLimit(row);
    return { ownerId, usedBytes, limitBytes, source, level: quotaLevel(usedBytes, limitBytes) };
  }

  /**
   * Inside a write, after its work: the owners this transaction charged more, each with
   * what the transaction added.
   */
  async grownInThisTransaction(manager: EntityManager): Promise<Map<number, number>> {
    const rows = await queryRows<{ owner_id: number; bytes: string | number }>(
      manager,
      `SELECT owner_id, sum(bytes) AS bytes FROM owner_usage_delta WHERE tx = txid_current() GROUP BY owner_id HAVING sum(bytes) > 0`,
    );
    return new Map(rows.map((r) => [Number(r.owner_id), Number(r.bytes)]));
  }

  async quotaRows(ownerIds: number[], db: Queryable = this.ds): Promise<Map<number, QuotaRow>> {
    if (ownerIds.length === 0) return new Map();
    const rows = await queryRows<{ owner_id: number; limit_bytes: string | number | null }>(
      db,
      `SELECT owner_id, limit_bytes FROM owner_quota WHERE owner_id = ANY($1::int[])`,
      [ownerIds],
    );
    return new Map(rows.map((r) => [Number(r.owner_id), { set: true, limitBytes: nullableNumber(r.limit_bytes) }]));
  }

  /**
   * Takes the owner's quota lock until the transaction ends, then reads its usage, this
   * transaction's changes included. Every write that grows a limited owner passes here
   * before COMMIT, so the next one reads usage only after this one committed or rolled
   * back: two concurrent uploads can never together pass the limit.
   */
  async lockedUsage(manager: EntityManager, ownerId: number): Promise<number> {
    await manager.query(`SELECT pg_advisory_xact_lock($1, $2)`, [QUOTA_LOCK_CLASS, ownerId]);
    const [row] = await queryRows<{ used: string | number }>(manager, `SELECT ${USAGE_SQL} AS used`, [ownerId]);
    return Number(row?.used ?? 0);
  }

  /**
   * Moves the recorded changes into the per-owner totals, so reading usage stays one
   * index lookup plus the few changes since. One statement: a reader sees the changes
   * before or after, never both or neither; two folds at once never count a change twice
   * (the second waits for the first's row locks and then finds those rows gone).
   */
  async fold(): Promise<number> {
    const [row] = await queryRows<{ folded: string | number }>(
      this.ds,
      `WITH moved AS (DELETE FROM owner_usage_delta RETURNING owner_id, bytes),
            totals AS (SELECT owner_id, sum(bytes) AS bytes, count(*) AS n FROM moved GROUP BY owner_id),
            applied AS (
              INSERT INTO owner_storage (owner_id, used_bytes)
                SELECT t.owner_id, t.bytes FROM totals t WHERE EXISTS (SELECT 1 FROM owner o WHERE o.id = t.owner_id)
              ON CONFLICT (owner_id) DO UPDATE SET used_bytes = owner_storage.used_bytes + EXCLUDED.used_bytes
              RETURNING 1)
       SELECT coalesce((SELECT sum(n) FROM totals), 0) AS folded, (SELECT count(*) FROM applied) AS applied`,
    );
    return Number(row?.folded ?? 0);
  }

  /** Sets an owner's quota: bytes, `null` for unlimited, `'default'` to follow the server default. */
  async setQuota(ownerId: number, limit: number | null | 'default', by?: string): Promise<void> {
    if (limit === 'default') {
      await this.ds.query(`DELETE FROM owner_quota WHERE owner_id = $1`, [ownerId]);
      return;
    }
    await this.ds.query(
      `INSERT INTO owner_quota (owner_id, limit_bytes, updated_by) VALUES ($1, $2, $3)
       ON CONFLICT (owner_id) DO UPDATE SET limit_bytes = EXCLUDED.limit_bytes, updated_at = now(), updated_by = EXCLUDED.updated_by`,
      [ownerId, limit, by ?? null],
    );
  }

  /** Every owner with its usage and quota, largest usage first (the administrators' table). */
  async list(options: { offset?: number; limit?: number; query?: string } = {}): Promise<{ items: OwnerStorageRow[]; total: number }> {
    const params: unknown[] = [];
    let where = '';
    if (options.query) {
      params.push(`%${options.query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where = `WHERE o.lower_name LIKE $1`;
    }
    const [{ total }] = await queryRows<{ total: string | number }>(this.ds, `SELECT count(*) AS total FROM owner o ${where}`, params);
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const offset = Math.max(options.offset ?? 0, 0);
    const rows = await queryRows<{
      id: number;
      name: string;
      type: string;
      used: string | number;
      set: boolean;
      limit_bytes: string | number | null;
    }>(
      this.ds,
      `SELECT o.id, o.name, o.type,
              coalesce(s.used_bytes, 0) + coalesce(d.bytes, 0) AS used,
              q.owner_id IS NOT NULL AS set, q.limit_bytes
       FROM owner o
       LEFT JOIN owner_storage s ON s.owner_id = o.id
       LEFT JOIN (SELECT owner_id, sum(bytes) AS bytes FROM owner_usage_delta GROUP BY owner_id) d ON d.owner_id = o.id
       LEFT JOIN owner_quota q ON q.owner_id = o.id
       ${where}
       ORDER BY used DESC, o.lower_name LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    return {
      total: Number(total),
      items: rows.map((r) => ({
        name: String(r.name),
        type: r.type === 'org' ? 'org' : 'user',
        ...this.toStatus(Number(r.id), Number(r.used), { set: r.set === true, limitBytes: nullableNumber(r.limit_bytes) }),
      })),
    };
  }

  /**
   * What is on disk (every blob once, however many owners hold it) against what owners are
   * charged (each owner its distinct blobs): the difference is what deduplication saves.
   */
  async totals(): Promise<StorageTotals> {
    const [row] = await queryRows<{ blobs: string | number; physical: string | number; charged: string | number }>(
      this.ds,
      `SELECT (SELECT count(*) FROM package_blob WHERE size >= 0) AS blobs,
              (SELECT coalesce(sum(size), 0) FROM package_blob WHERE size >= 0) AS physical,
              (SELECT coalesce(sum(used_bytes), 0) FROM owner_storage) + (SELECT coalesce(sum(bytes), 0) FROM owner_usage_delta) AS charged`,
    );
    return { blobs: Number(row?.blobs ?? 0), physicalBytes: Number(row?.physical ?? 0), chargedBytes: Number(row?.charged ?? 0) };
  }
}

export interface OwnerStorageRow extends StorageStatus {
  name: string;
  type: 'user' | 'org';
}

export interface StorageTotals {
  /** Distinct blobs stored. */
  blobs: number;
  /** Their bytes: what the blob store holds (each content once). */
  physicalBytes: number;
  /** The sum of every owner's usage (a blob held by two owners counts twice). */
  chargedBytes: number;
}

function nullableNumber(value: string | number | null | undefined): number | null {
  return value === null || value === undefined ? null : Number(value);
}
