import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { PGlite } from '@electric-sql/pglite';

/**
 * What keeps the embedded database's memory small (docs/benchmarks.md, "Idle memory on
 * PGlite"). PGlite is PostgreSQL in WebAssembly: its linear memory only grows, and every
 * page it touches stays resident. Measured on a fresh install (Node 20, PGlite 0.5):
 *
 * - `initdb` runs inside the process that creates the database, with its own WebAssembly
 *   instance, and copies the new cluster through an in-memory tar: the process idled at
 *   ~840 MB afterwards, and ~300 MB of that stayed resident even once the instances were
 *   collected (the native heap keeps what it grew to). So a new database is created by a
 *   short-lived child process, and the server only ever opens an existing one.
 * - PostgreSQL's defaults size shared buffers for a database server of its own: PGlite
 *   starts with 128 MB of them, which fill up and stay. An embedded database for one
 *   process needs far less, and the operating system caches its files anyway.
 */
export const PGLITE_START_PARAMS: string[] = [
  ...PGlite.defaultStartParams,
  // 16 MB of shared buffers instead of 128 MB (the data files are in the OS page cache too).
  '-c',
  'shared_buffers=16MB',
  // Index builds and VACUUM: 16 MB instead of 64 MB (the linear memory never shrinks after one).
  '-c',
  'maintenance_work_mem=16MB',
  // Temporary tables: none are used.
  '-c',
  'temp_buffers=1MB',
];

const run = promisify(execFile);

/** True when `dir` holds a database already (a non-empty directory). */
async function hasDatabase(dir: string): Promise<boolean> {
  try {
    return (await fs.readdir(dir)).length > 0;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Creates the embedded database in `dir` if there is none, in a child process (see above),
 * so that this process opens an existing one.
 */
export async function createPgliteDatabaseOutOfProcess(dir: string): Promise<void> {
  if (await hasDatabase(dir)) return;
  // The CommonJS build, so the child needs no module loader of ours (tests run from source).
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const script = `(async () => {
    const { PGlite } = require(${JSON.stringify(entry)});
    const db = await PGlite.create({ dataDir: process.argv[1] });
    await db.close();
  })().catch((err) => { console.error(err && err.message ? err.message : String(err)); process.exit(1); });`;
  try {
    await run(process.execPath, ['-e', script, dir], { maxBuffer: 1024 * 1024 });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`creating the embedded database in ${dir} failed: ${(e.stderr || e.message).trim()}`);
  }
}
