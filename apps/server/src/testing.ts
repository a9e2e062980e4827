import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type http from 'node:http';
import type { Logger, PackageTypeModule, Scope, User, Visibility } from '@forge/core';
import type { DatabaseKind } from '@forge/db';
import { createTestDatabase, type TestDatabase } from '@forge/db/testing';
import { loadConfig, type ForgeConfig } from './config.js';
import { createForge, type Forge } from './forge.js';
import { closeServer, listen } from './http-server.js';
import { defaultModules } from './modules.js';

/**
 * A real server on a loopback port, on a fresh database of the given kind and a fresh
 * data directory, for integration and end-to-end tests (Backstage's startTestBackend,
 * with the real services).
 */
export interface TestServer {
  url: string;
  port: number;
  kind: DatabaseKind;
  dataDir: string;
  databaseOptions: import('@forge/db').DatabaseOptions;
  forge: Forge;
  server: http.Server;
  /** Creates a user; the password is `password-<name>`. */
  createUser(name: string, options?: { admin?: boolean; visibility?: Visibility }): Promise<User>;
  /** A token for the user with the given scopes. */
  token(user: User, scopes?: Scope[], options?: { expiresAt?: Date; name?: string }): Promise<string>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  db: DatabaseKind;
  modules?: PackageTypeModule[];
  config?: Partial<ForgeConfig>;
  /** Keep the PGlite database on disk under the data directory instead of in memory. */
  pgliteOnDisk?: boolean;
  /** The server's logger (tests that assert what is logged, and at which level). */
  logger?: Logger;
  /**
   * A second server process on another's PostgreSQL database and blob directory (a
   * scale-out deployment in miniature); closing it leaves the database to its owner.
   */
  sharing?: TestServer;
}

export async function startTestServer(options: TestServerOptions): Promise<TestServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'forge-test-'));
  const testDb: TestDatabase = options.sharing
    ? { kind: options.sharing.kind, options: sharedOptions(options.sharing), drop: async () => {} }
    : await createTestDatabase(options.db, options.pgliteOnDisk ? path.join(dataDir, 'pgdata') : undefined);
  const port = await freePort();
  const config: ForgeConfig = {
    ...loadConfig({}, dataDir),
    port,
    listen: '127.0.0.1',
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    storage: options.sharing ? options.sharing.forge.config.storage : { kind: 'local', path: path.join(dataDir, 'blobs') },
    secret: options.sharing ? options.sharing.forge.secret.toString('hex') : undefined,
    logLevel: (process.env.FORGE_TEST_LOG_LEVEL as ForgeConfig['logLevel']) ?? 'silent',
    accessLog: Boolean(process.env.FORGE_TEST_LOG_LEVEL),
    ...options.config,
  };
  let forge: Forge | undefined;
  try {
    forge = await createForge({ config, modules: options.modules ?? defaultModules(config), database: testDb.options, logger: options.logger });
    const server = await listen(forge.handler, port, '127.0.0.1');
    const f = forge;
    let counter = 0;
    return {
      url: config.baseUrl,
      port,
      kind: options.db,
      dataDir,
      databaseOptions: testDb.options,
      forge: f,
      server,
      createUser: (name, o = {}) =>
        f.owners.createUser({ username: name, email: `${name}@example.test`, password: `password-${name}`, isAdmin: o.admin, visibility: o.visibility }),
      token: async (user, scopes = ['read:package', 'write:package'], o = {}) =>
        (await f.tokens.create(user, { name: o.name ?? `test-${++counter}`, scopes, expiresAt: o.expiresAt })).token,
      async close() {
        await closeServer(server);
        await f.close();
        await testDb.drop();
        await fs.rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await forge?.close().catch(() => {});
    await testDb.drop().catch(() => {});
    await fs.rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}

function sharedOptions(other: TestServer) {
  if (other.kind !== 'postgres') throw new Error('only a PostgreSQL database can be shared by two server processes');
  return other.databaseOptions;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** `Authorization` header value for HTTP Basic. */
export function basic(username: string, password: string): string {
  return 'Basic ' + Buffer.from(`${username}:${password}`).toString('base64');
}

/** A log line kept by `recordingLogger`, with the fields of its child loggers merged in. */
export interface RecordedLog {
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every line in memory, for tests that check what is logged and at which level. */
export function recordingLogger(lines: RecordedLog[] = [], bound: Record<string, unknown> = {}): Logger & { lines: RecordedLog[] } {
  const at = (level: RecordedLog['level']) => (msg: string, fields: Record<string, unknown> = {}) => {
    lines.push({ level, msg, fields: { ...bound, ...fields } });
  };
  return {
    lines,
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => recordingLogger(lines, { ...bound, ...fields }),
  };
}

export { routeTable, type RouteEntry } from './route-table.js';
export { operationsOf, type OpenApiDocument } from './api/openapi.js';

/** One sample of a Prometheus text exposition: a metric name, its labels and value. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text format (`/metrics`): every sample, and the names declared by `# TYPE`. */
export function parseMetrics(text: string): { samples: MetricSample[]; names: Set<string> } {
  const samples: MetricSample[] = [];
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) /.exec(line);
    if (type) names.add(type[1]!);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { samples, names };
}

/** The sum of the samples named `name` whose labels include `labels` (0 when there is none). */
export function metricValue(samples: readonly MetricSample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** Scrapes a test server's `/metrics` (its config must have `metrics: true`). */
export async function scrapeMetrics(t: { url: string }, token?: string): Promise<{ samples: MetricSample[]; names: Set<string>; text: string }> {
  const res = await fetch(`${t.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${text}`);
  return { ...parseMetrics(text), text };
}
