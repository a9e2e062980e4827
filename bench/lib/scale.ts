/**
 * The scale run: narinfo lookup latency in an owner's cache of 1 000 paths vs 1 000 000.
 *
 * For each size a fresh server and database: one real path is pushed over HTTP (so the
 * cache, its signing key, a package version and a blob exist), the server is stopped, and
 * `size` rows are inserted directly into `nix_store_path`, `nix_reference` (3 per path)
 * and `nix_path_signature` (one server signature per path, so no read signs), all pointing
 * at that version and blob. Then the server is started again and a client asks, one
 * request at a time on one connection, for 1 000 distinct existing paths and 1 000 missing
 * ones, each once, so every lookup reaches the database (not the server's short-lived
 * narinfo memo).
 */
import path from 'node:path';
import pg from 'pg';
import type { Measurement } from './report.js';
import type { Progress } from './progress.js';
import { uploadSyntheticPath } from './nar.js';
import { createBenchUser, createServer, type DbKind, type ServerUnderTest } from './server.js';
import { loadgen, type Target } from './targets.js';
import { fmtMs, median, percentile, prngInt, sleep } from './util.js';

export interface ScaleOptions {
  kind: DbKind;
  dir: string;
  small: number;
  large: number;
  reps: number;
  quick: boolean;
  progress: Progress;
  nodeArgs: string[];
}

const HASH = (expr: string) => `translate(left(md5('forge-bench-' || (${expr})::text), 32), 'e', 'g')`;

interface Queryable {
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

async function withDatabase<T>(sut: ServerUnderTest, work: (db: Queryable) => Promise<T>): Promise<T> {
  if (sut.kind === 'postgres') {
    const client = new pg.Client({ connectionString: sut.databaseUrl });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }
  const { PGlite } = await import('@electric-sql/pglite');
  const db = await PGlite.create({ dataDir: path.join(sut.dataDir, 'pgdata') });
  try {
    return await work(db as unknown as Queryable);
  } finally {
    await db.close();
  }
}

/** Inserts `n` store paths (ids 1..n by name) into the bench user's cache, modelled on the seeded path. */
async function populate(db: Queryable, n: number): Promise<void> {
  const [seed] = (await db.query(
    `SELECT p.owner_id, p.version_id, p.url, p.file_hash, p.nar_hash, p.nar_size, p.nar_blob_id, s.key_id, s.sig
     FROM nix_store_path p JOIN nix_path_signature s ON s.path_id = p.id LIMIT 1`,
  )).rows;
  if (!seed) throw new Error('scale run: the seeded path is missing');
  const refs = `(SELECT string_agg(${HASH(`((i + k * 7919) % ${n}) + 1`)} || '-bench-path-' || (((i + k * 7919) % ${n}) + 1), ' ' ORDER BY k) FROM generate_series(1, 3) k)`;
  await db.query(
    `INSERT INTO nix_store_path (owner_id, hash_part, name, version_id, url, compression, file_hash, file_size, nar_hash, nar_size, nar_blob_id, refs, sigs)
     SELECT $1::int, ${HASH('i')}, 'bench-path-' || i, $2::int, $3, 'none', $4, $5::bigint, $6, $5::bigint, $7::int, ${refs}, ''
     FROM generate_series(1, ${n}) i`,
    [seed.owner_id, seed.version_id, seed.url, seed.file_hash, seed.nar_size, seed.nar_hash, seed.nar_blob_id],
  );
  await db.query(
    `INSERT INTO nix_reference (path_id, owner_id, ref_hash)
     SELECT p.id, p.owner_id, ${HASH(`((substr(p.name, 12)::int + k * 7919) % ${n}) + 1`)}
     FROM nix_store_path p, generate_series(1, 3) k WHERE p.owner_id = $1::int AND p.name LIKE 'bench-path-%'`,
    [seed.owner_id],
  );
  await db.query(
    `INSERT INTO nix_path_signature (path_id, key_id, sig) SELECT id, $2::int, $3 FROM nix_store_path WHERE owner_id = $1::int AND name LIKE 'bench-path-%'`,
    [seed.owner_id, seed.key_id, seed.sig],
  );
  await db.query('ANALYZE');
}

export async function runScale(o: ScaleOptions): Promise<Measurement[]> {
  const out: Measurement[] = [];
  const label = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : `${n / 1000}k`);
  const smallName = `forge-${o.kind}-${label(o.small)}`;
  for (const n of [o.small, o.large]) {
    const name = `forge-${o.kind}-${label(n)}`;
    o.progress.step(`scale ${name}: seeding ${n.toLocaleString('en')} paths`);
    const sut = await createServer({ kind: o.kind, dir: path.join(o.dir, label(n)), nodeArgs: o.nodeArgs });
    try {
      await sut.start();
      const token = await createBenchUser(sut);
      const cache = `${sut.url}/api/packages/bench/nix`;
      await uploadSyntheticPath(cache, token, 'scale-seed', 1000);
      await sut.stop();
      const t0 = performance.now();
      await withDatabase(sut, (db) => populate(db, n));
      const populateMs = performance.now() - t0;
      await sut.start();
      o.progress.tick(`scale ${name}: ${n.toLocaleString('en')} rows inserted in ${fmtMs(populateMs)}`);

      o.progress.step(`scale ${name}: lookups`);
      const target: Target = { name, host: '127.0.0.1', port: sut.port, base: () => '/api/packages/bench/nix', pid: sut.pid, tree: false };
      const rand = prngInt(`scale-${n}`);
      const sample = (count: number, exclude: Set<number>) => {
        const picked = new Set<number>();
        if (n - exclude.size <= count) {
          for (let i = 1; i <= n; i++) if (!exclude.has(i)) picked.add(i);
        } else {
          while (picked.size < count) {
            const i = 1 + rand(n);
            if (!exclude.has(i)) picked.add(i);
          }
        }
        return [...picked];
      };
      const hashOf = await withHashFunction();
      const narinfo = (h: string) => `/api/packages/bench/nix/${h}.narinfo`;
      // Warm-up on other paths (JIT, connection pool, the index's upper pages).
      const warm = sample(Math.min(200, Math.floor(n / 5)), new Set());
      await loadgen(target, { kind: 'seq', paths: warm.map((i) => narinfo(hashOf(i))) });
      const hits = sample(1000, new Set(warm)).map((i) => narinfo(hashOf(i)));
      const misses = Array.from({ length: 1000 }, (_, i) => narinfo(hashOf(-1 - i)));
      for (let rep = 1; rep <= o.reps; rep++) {
        // Nothing of the sample may still be in the server's 5 s narinfo memo.
        await sleep(o.quick ? 0 : 5_500);
        for (const [kind, paths] of [['hit', hits], ['miss', misses]] as const) {
          const r = await loadgen(target, { kind: 'seq', paths });
          const wanted = kind === 'hit' ? '200' : '404';
          if (r.statuses[wanted] !== paths.length) throw new Error(`${name}: lookups ${kind}: statuses ${JSON.stringify(r.statuses)}`);
          const lat = r.latencies!;
          const base = { section: 'scale' as const, target: name, unit: 'ms', better: 'lower' as const, rssPeak: r.rssPeak, reference: n === o.small ? undefined : smallName, goal: n === o.small ? undefined : 1.2 };
          out.push({ ...base, metric: `lookup_${kind}_p50`, values: [median(lat)] });
          out.push({ ...base, metric: `lookup_${kind}_p99`, values: [percentile(lat, 99)] });
          out.push({ ...base, metric: `lookup_${kind}_mean`, values: [lat.reduce((a, b) => a + b, 0) / lat.length] });
        }
      }
      const p50 = median(out.filter((m) => m.target === name && m.metric === 'lookup_hit_p50').flatMap((m) => m.values));
      o.progress.tick(`scale ${name}: hit p50 ${p50.toFixed(3)} ms`);
    } finally {
      await sut.destroy();
    }
  }
  return out;
}

/** The same hash parts as the SQL above (md5 of 'forge-bench-<i>', e → g); negative i never exist. */
async function withHashFunction(): Promise<(i: number) => string> {
  const { createHash } = await import('node:crypto');
  return (i: number) => createHash('md5').update(`forge-bench-${i}`).digest('hex').replace(/e/g, 'g');
}
