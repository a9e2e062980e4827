/**
 * The server under test: `node apps/server/dist/main.js` as its own process, with production
 * settings (NODE_ENV=production, the default config: access log on, LOG_LEVEL=info), a fresh
 * data directory with local blob storage, and either the embedded PGlite or a fresh
 * PostgreSQL database. Users, orgs and tokens are made with the `forge` CLI, as an
 * administrator would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { freePort, run, sleep, waitForHttp } from './util.js';

export type DbKind = 'pglite' | 'postgres';

export const REPO = path.resolve(import.meta.dirname, '../..');
const MAIN = path.join(REPO, 'apps/server/dist/main.js');
const CLI = path.join(REPO, 'apps/server/bin/forge.js');

export interface ServerOptions {
  kind: DbKind;
  dir: string;
  /** PostgreSQL server URL without a database (default postgres://postgres@127.0.0.1:5432). */
  postgresUrl?: string;
  /** Extra arguments for node (e.g. --cpu-prof). */
  nodeArgs?: string[];
  env?: Record<string, string>;
  /** Reuse this database instead of creating one (scale runs prepare it first). */
  databaseName?: string;
}

export interface ServerUnderTest {
  kind: DbKind;
  url: string;
  port: number;
  pid: () => number | undefined;
  env: Record<string, string>;
  dataDir: string;
  databaseUrl?: string;
  databaseName?: string;
  logFile: string;
  cli(args: string[]): Promise<string>;
  /** Stops the process (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the process and drops its database. */
  destroy(): Promise<void>;
}

export function postgresBaseUrl(): string {
  return process.env.FORGE_BENCH_POSTGRES_URL ?? process.env.FORGE_TEST_POSTGRES_URL?.replace(/\/[^/]*$/, '') ?? 'postgres://postgres@127.0.0.1:5432';
}

export async function adminQuery(baseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: `${baseUrl}/postgres` });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createServer(options: ServerOptions): Promise<ServerUnderTest> {
  const dataDir = path.join(options.dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort();
  let databaseUrl: string | undefined;
  let databaseName: string | undefined;
  const base = options.postgresUrl ?? postgresBaseUrl();
  if (options.kind === 'postgres') {
    databaseName = options.databaseName ?? `forge_bench_${process.pid}_${Date.now().toString(36)}`;
    if (!options.databaseName) await adminQuery(base, `CREATE DATABASE ${databaseName}`);
    databaseUrl = `${base}/${databaseName}`;
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/root',
    NODE_ENV: 'production',
    PORT: String(port),
    FORGE_LISTEN: '127.0.0.1',
    FORGE_BASE_URL: `http://127.0.0.1:${port}`,
    FORGE_DATA_DIR: dataDir,
    LOG_LEVEL: 'info',
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...options.env,
  };
  const logFile = path.join(options.dir, 'server.log');
  let child: ChildProcess | undefined;

  const sut: ServerUnderTest = {
    kind: options.kind,
    url: `http://127.0.0.1:${port}`,
    port,
    pid: () => child?.pid,
    env,
    dataDir,
    databaseUrl,
    databaseName,
    logFile,
    async start() {
      // Logs (the access log included) go to a file, as under a service manager.
      const fd = openSync(logFile, 'a');
      child = spawn(process.execPath, [...(options.nodeArgs ?? []), MAIN], { env, cwd: options.dir, stdio: ['ignore', fd, fd] });
      closeSync(fd);
      await waitForHttp(`${sut.url}/healthz`, 120_000, child);
    },
    async cli(args: string[]) {
      const r = await run(process.execPath, [CLI, ...args], { env, cwd: options.dir });
      if (r.code !== 0) throw new Error(`forge ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
      return r.stdout.trim();
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await Promise.race([exited, sleep(15_000)]);
      if (c.exitCode === null && c.signalCode === null) {
        c.kill('SIGKILL');
        await exited;
      }
    },
    async destroy() {
      await sut.stop();
      if (databaseName && !options.databaseName) await adminQuery(base, `DROP DATABASE IF EXISTS ${databaseName} WITH (FORCE)`).catch(() => {});
    },
  };
  return sut;
}

/** Creates the benchmark admin and a token with package scopes; returns the token. */
export async function createBenchUser(sut: ServerUnderTest, name = 'bench'): Promise<string> {
  await sut.cli(['admin', 'user', 'create', '--admin', '--username', name, '--password', `${name}-password-123`, '--email', `${name}@bench.invalid`]);
  return sut.cli(['admin', 'user', 'generate-access-token', '--username', name, '--token-name', 'bench', '--scopes', 'read:package,write:package', '--raw']);
}
