/**
 * The embedded database's memory settings (packages/db/src/pglite-memory.ts): a new
 * database is created by a child process, and the database is opened with small shared
 * buffers. The memory itself is measured by the benchmark (`npm run bench -- --only idle`).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '@forge/db';

describe('the embedded database on disk', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await fs.rm(d, { recursive: true, force: true });
  });

  it('is created, opened with 16 MB of shared buffers, and opened again as it is', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-pglite-'));
    dirs.push(dir);
    const pgdata = path.join(dir, 'pgdata');
    const db = await openDatabase({ pgliteDir: pgdata });
    try {
      await db.migrate();
      const [{ shared_buffers }] = (await db.dataSource.query('SHOW shared_buffers')) as Array<{ shared_buffers: string }>;
      expect(shared_buffers).toBe('16MB');
      const [{ maintenance_work_mem }] = (await db.dataSource.query('SHOW maintenance_work_mem')) as Array<{ maintenance_work_mem: string }>;
      expect(maintenance_work_mem).toBe('16MB');
      await db.dataSource.query(`INSERT INTO owner (name, lower_name, type) VALUES ('kept', 'kept', 'user')`);
    } finally {
      await db.close();
    }
    expect((await fs.readdir(pgdata)).length).toBeGreaterThan(0);
    const again = await openDatabase({ pgliteDir: pgdata });
    try {
      expect(await again.dataSource.query('SELECT name FROM owner')).toEqual([{ name: 'kept' }]);
    } finally {
      await again.close();
    }
  });

  it('reports a database that cannot be created in one line', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-pglite-'));
    dirs.push(dir);
    const blocker = path.join(dir, 'file');
    await fs.writeFile(blocker, 'not a directory');
    await expect(openDatabase({ pgliteDir: path.join(blocker, 'pgdata') })).rejects.toThrow(/not a directory|ENOTDIR|EEXIST/i);
  });
});
