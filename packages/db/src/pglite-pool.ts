import { EventEmitter } from 'node:events';
import type { PGlite, Results } from '@electric-sql/pglite';

/**
 * A `pg.Pool` look-alike over one in-process PGlite database, handed to TypeORM's
 * postgres driver as `driver: { Pool }`.
 *
 * PGlite is a single Postgres session. TypeORM takes a connection from the pool for every
 * query runner and holds it across BEGIN … COMMIT, so the pool must lease that session
 * exclusively: otherwise two concurrent requests' transactions interleave their
 * statements in one session and one's ROLLBACK undoes the other's work. Leases are
 * granted in arrival order, exactly like a `pg.Pool` with `max: 1`.
 */
export function pgliteDriver(open: () => Promise<PGlite>): { Pool: new () => PgliteLeasePool } {
  let database: Promise<PGlite> | null = null;
  const db = () => (database ??= open());
  class Pool extends PgliteLeasePool {
    constructor() {
      super(db);
    }
  }
  return { Pool };
}

type ConnectCallback = (err: Error | null, client: PgliteSession | null, release: (err?: unknown) => void) => void;

/**
 * Transactions are short (uploads stream to storage before their transaction starts), so
 * a lease that cannot be had for this long means a query was made outside a transaction
 * while that transaction holds the only connection: fail loudly instead of hanging.
 */
const LEASE_WAIT_LIMIT_MS = 30_000;

export class PgliteLeasePool extends EventEmitter {
  /** Settles when the current lease is released; each new lease chains onto it. */
  #tail: Promise<void> = Promise.resolve();
  #ended = false;
  /** Leases asked for and not yet released (the one held, and those waiting for it). */
  #leases = 0;

  constructor(private readonly db: () => Promise<PGlite>) {
    super();
  }

  connect(callback: ConnectCallback): void {
    if (this.#ended) {
      callback(new Error('pool has ended'), null, () => {});
      return;
    }
    let releaseLease!: () => void;
    const previous = this.#tail;
    this.#tail = new Promise<void>((resolve) => (releaseLease = resolve));
    let released = false;
    this.#leases++;
    const release = () => {
      if (released) return;
      released = true;
      this.#leases--;
      releaseLease();
    };
    let gaveUp = false;
    const timer = setTimeout(() => {
      gaveUp = true;
      callback(
        new Error(
          `waited ${LEASE_WAIT_LIMIT_MS / 1000}s for the embedded database's connection: a query outside a ` +
            'transaction is probably waiting for that transaction (use the transaction\'s manager inside it)',
        ),
        null,
        () => {},
      );
    }, LEASE_WAIT_LIMIT_MS);
    timer.unref();
    previous
      .then(() => this.db())
      .then(
        (db) => {
          clearTimeout(timer);
          if (gaveUp) return release();
          callback(null, new PgliteSession(db), release);
        },
        (err: Error) => {
          clearTimeout(timer);
          release();
          if (!gaveUp) callback(err, null, () => {});
        },
      );
  }

  // pg.Pool's figures, for /metrics: one session, held or idle, and who waits for it.
  get totalCount(): number {
    return 1;
  }
  get idleCount(): number {
    return this.#leases === 0 ? 1 : 0;
  }
  get waitingCount(): number {
    return Math.max(0, this.#leases - 1);
  }

  async query(sql: string, params?: unknown[]): Promise<PgResult> {
    return new Promise((resolve, reject) => {
      this.connect((err, client, release) => {
        if (err || !client) return reject(err);
        client.query(sql, params).then(
          (r) => {
            release();
            resolve(r);
          },
          (e) => {
            release();
            reject(e);
          },
        );
      });
    });
  }

  end(callback?: (err: Error | null) => void): Promise<void> {
    this.#ended = true;
    const done = this.#tail.then(() => this.db()).then((db) => db.close());
    done.then(
      () => callback?.(null),
      (err: Error) => callback?.(err),
    );
    return done;
  }
}

interface PgResult {
  rows: unknown[];
  rowCount: number;
  command: string;
  fields: Results['fields'];
}

/** One leased session, answering in node-postgres's result shape (TypeORM reads rowCount/command). */
class PgliteSession extends EventEmitter {
  constructor(private readonly db: PGlite) {
    super();
  }

  async query(sql: string, params?: unknown[], callback?: (err: Error | null, result?: PgResult) => void): Promise<PgResult> {
    try {
      let result: Results;
      if (params && params.length > 0) {
        result = await this.db.query(sql, params);
      } else {
        // exec runs multi-statement scripts (migrations); TypeORM wants the last result.
        const all = await this.db.exec(sql);
        result = all[all.length - 1] ?? { rows: [], fields: [] };
      }
      const shaped: PgResult = {
        rows: result.rows,
        rowCount: result.affectedRows ?? result.rows.length,
        command: commandOf(sql),
        fields: result.fields,
      };
      callback?.(null, shaped);
      return shaped;
    } catch (err) {
      if (callback) {
        callback(err as Error);
        return undefined as never;
      }
      throw err;
    }
  }
}

function commandOf(sql: string): string {
  const match = /^\s*(?:--[^\n]*\n\s*)*(\w+)/.exec(sql);
  return match ? match[1]!.toUpperCase() : '';
}
