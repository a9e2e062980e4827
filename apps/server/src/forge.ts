import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestListener, ServerResponse } from 'node:http';
import path from 'node:path';
import express, { type Express, type RequestHandler } from 'express';
import { assertNoEncodedNul, CleanupMetrics, noMetrics, QUOTA_WARNING_HEADER, quotaWarning, type BlobStore, type Logger, type Metrics, type ModuleApiDoc, type PackageTypeModule } from '@forge/core';
import {
  authenticate,
  OwnerService,
  PackageAccessGuard,
  PasswordHasher,
  PasswordSignIn,
  SignInThrottle,
  ThrottleStore,
  TokenService,
  tokenApiRouter,
} from '@forge/auth';
import { createLocalBlobStore, createS3BlobStore } from '@forge/blob-store';
import { LocalEvents, openDatabase, PostgresEvents, type Database, type DatabaseOptions } from '@forge/db';
import { OwnerKeyService, SecretBox } from '@forge/keys';
import { Registry } from '@forge/registry';
import { createWebUi, UiContributions } from '@forge/web';
import { clientAddressResolver, parseTrustProxy } from './client-address.js';
import type { ForgeConfig, StorageConfig } from './config.js';
import { FastLane } from './fast-lane.js';
import { errorHandler, notFound } from './http-errors.js';
import { healthRoutes, ServerState } from './health.js';
import { metricsEndpoint } from './metrics/endpoint.js';
import { registerHostMetrics } from './metrics/host-metrics.js';
import { PrometheusMetrics } from './metrics/prometheus.js';
import { observeRequests } from './request-observer.js';
import { FORGE_VERSION } from './version.js';
import { registerModules, validateModules } from './load-modules.js';
import { createLogger } from './logger.js';
import { CleanupRunner } from './cleanup/cleanup-runner.js';
import { CleanupScheduler } from './cleanup/cleanup-scheduler.js';
import { blobSweepTask, stagingSweepTask } from './cleanup/host-tasks.js';
import { PostgresRunnerLock, ProcessRunnerLock } from './cleanup/runner-lock.js';
import { buildOpenApiDocument, openApiRouter } from './api/openapi.js';
import { packagesApiRouter } from './api/packages.js';
import { serverVersionRouter } from './api/server-version.js';
import { PackageVersions } from './api/version-hooks.js';
import { MOUNTED } from './route-table.js';
import { quotaApiRouter } from './quota-api.js';
import { loadServerSecret } from './secret.js';
import { createServeBlob } from './serve-blob.js';

export interface ForgeOptions {
  config: ForgeConfig;
  modules: PackageTypeModule[];
  logger?: Logger;
  /** Overrides the database chosen from config (tests: in-memory PGlite, throwaway PostgreSQL). */
  database?: DatabaseOptions;
}

/** The composed application: every service, and the express app that serves them. */
export interface Forge {
  config: ForgeConfig;
  logger: Logger;
  db: Database;
  blobs: BlobStore;
  owners: OwnerService;
  tokens: TokenService;
  /** Password checks: throttled per account and address, hashed with bounded concurrency. */
  signIn: PasswordSignIn;
  passwords: PasswordHasher;
  access: PackageAccessGuard;
  registry: Registry;
  keys: OwnerKeyService;
  secret: Buffer;
  modules: PackageTypeModule[];
  ui: UiContributions;
  /** The registered cleanup tasks (collections, sweeps), run on demand or by the scheduler. */
  cleanup: CleanupRunner;
  app: Express;
  /** The HTTP request listener: the fast lane for hot package reads, then the express app. */
  handler: RequestListener;
  /** What modules and the host record for `/metrics` (no-ops unless `FORGE_METRICS=1`). */
  metrics: Metrics;
  /** Draining or not (health probes read it). */
  state: ServerState;
  /** What this server runs on, for the start-up line and `forge_info`: version, database, storage, decoders. */
  runtime: Record<string, string>;
  close(): Promise<void>;
}

/** How often recorded usage changes are folded into the per-owner totals. */
const USAGE_FOLD_MS = 15_000;

/** Runs `handler` only for URLs under `prefix`; everything else goes straight on. */
function onlyUnder(prefix: string, handler: RequestHandler): RequestHandler {
  const wrapper: RequestHandler = (req, res, next) => (req.url.startsWith(prefix) ? handler(req, res, next) : next());
  // The route table (route-table.ts) looks inside.
  return Object.assign(wrapper, { [MOUNTED]: handler });
}

export async function createForge(options: ForgeOptions): Promise<Forge> {
  const { config, modules } = options;
  const logger = options.logger ?? createLogger(config.logLevel);
  validateModules(modules);

  const databaseOptions = options.database ?? {
    url: config.databaseUrl,
    pgliteDir: config.databaseUrl ? undefined : path.join(config.dataDir, 'pgdata'),
    poolSize: config.databasePoolSize,
  };
  // The blob store first: its check is quick, and a wrong endpoint or secret should be
  // reported before the database is opened and migrated.
  const blobs = createBlobStore(config.storage);
  const destroyBlobs = () => (blobs as { destroy?: () => void }).destroy?.();
  try {
    await blobs.check();
  } catch (err) {
    destroyBlobs();
    throw err;
  }
  const db = await openDatabase(
    databaseOptions,
    {
      entities: modules.flatMap((m) => m.entities ?? []),
      migrations: modules.map((m) => m.migrations ?? []),
    },
  );
  const shutdownHooks: Array<() => Promise<void> | void> = [destroyBlobs];
  const close = async () => {
    for (const hook of shutdownHooks.reverse()) await hook();
    await db.close();
  };
  try {
    await db.migrate();
    const secret = await loadServerSecret(config.secret, config.dataDir);
    // Staging left by a crash; the grace spares uploads other processes are running.
    await blobs.sweepStaging(config.blobGraceMs);

    const ds = db.dataSource;
    const prometheus = config.metrics ? new PrometheusMetrics() : undefined;
    const metrics: Metrics = prometheus ?? noMetrics;
    const state = new ServerState();
    const runtime: Record<string, string> = {
      version: FORGE_VERSION,
      database: db.kind,
      storage: blobs.kind,
      ...Object.assign({}, ...modules.map((m) => m.describeRuntime?.() ?? {})),
    };
    const events = await startClusterEvents(db, databaseOptions.url, logger);
    shutdownHooks.push(() => events.close());
    const passwords = new PasswordHasher(config.passwordHashing);
    const owners = new OwnerService(ds, passwords);
    const tokens = new TokenService(ds);
    const signIn = new PasswordSignIn(owners, new SignInThrottle(new ThrottleStore(ds), config.signIn), logger.child({ component: 'auth' }));
    const trustProxy = parseTrustProxy(config.trustProxy);
    const clientAddress = clientAddressResolver(trustProxy);
    const access = new PackageAccessGuard(owners);
    // The response of the upload a registry write belongs to, for the quota warning header.
    const uploadResponse = new AsyncLocalStorage<ServerResponse>();
    const registry = new Registry(ds, blobs, {
      ownerQuotaBytes: config.ownerQuotaBytes,
      logger,
      onStorageChecked: async (status) => {
        const res = uploadResponse.getStore();
        if (!res || res.headersSent || status.level === 'ok') return;
        const owner = await owners.findById(status.ownerId);
        const warning = owner && quotaWarning(owner.name, status);
        if (warning && !res.headersSent) res.setHeader(QUOTA_WARNING_HEADER, warning);
      },
    });
    // Usage changes are recorded row by row; folding them into the totals keeps reading
    // usage one lookup plus the few changes since (any process may fold, at any time).
    const fold = setInterval(() => void registry.storage.fold().catch((err: Error) => logger.warn('folding storage usage failed', { err: err.message })), USAGE_FOLD_MS);
    fold.unref();
    shutdownHooks.push(() => clearInterval(fold));
    const keys = new OwnerKeyService(ds, new SecretBox(secret, 'owner-keys'));
    // Memos of hot data are dropped in every process when any process changes it.
    const notify = (topic: string, payload = '') => void events.publish(topic, payload).catch((err: Error) => logger.warn('change notice failed', { topic, err: err.message }));
    owners.onChange(() => notify('owners'));
    tokens.onChange(() => notify('tokens'));
    keys.onChange((ownerId, purpose) => notify('keys', `${ownerId} ${purpose}`));
    events.subscribe('owners', () => access.forget());
    events.subscribe('tokens', () => tokens.clearCache());
    events.subscribe('keys', () => keys.forget());
    const ui = new UiContributions();
    const serveBlob = createServeBlob(blobs, config.serveDirect, logger.child({ component: 'blobs' }));
    const host = {
      baseUrl: config.baseUrl,
      hostName: keyNameHost(config.baseUrl),
      maxUploadBytes: config.maxUploadBytes,
      uploadGraceMs: config.uploadGraceMs,
      bodyIdleTimeoutMs: config.bodyIdleTimeoutMs,
    };
    const cleanupLogger = logger.child({ component: 'cleanup' });
    const cleanup = new CleanupRunner(db.kind === 'postgres' ? new PostgresRunnerLock(ds) : new ProcessRunnerLock(), cleanupLogger, new CleanupMetrics(metrics));

    const app = express();
    const fastLane = new FastLane();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.set('query parser', 'simple');
    // req.ip agrees with the address sign-in limits and logs use.
    app.set('trust proxy', trustProxy ?? false);
    // An encoded NUL can name nothing (PostgreSQL cannot even compare it): the API refuses
    // it before any route decodes it; the web UI does the same with an HTML page.
    app.use(
      onlyUnder('/api/', (req, _res, next) => {
        assertNoEncodedNul(req.url);
        next();
      }),
    );
    // Writes under the package API run inside their response's context, so the registry
    // can put a quota warning on it (X-Forge-Quota-Warning, docs/quotas.md).
    app.use(onlyUnder('/api/packages/', (req, res, next) => (req.method === 'GET' || req.method === 'HEAD' ? next() : uploadResponse.run(res, next))));
    healthRoutes(app, ds, state);
    if (prometheus) {
      registerHostMetrics(prometheus, { db, registry, info: runtime, draining: () => state.draining });
      app.get('/metrics', metricsEndpoint(prometheus, config.metricsToken));
    }
    const auth = {
      tokens,
      signIn,
      clientAddress,
      logger: logger.child({ component: 'auth' }),
      // Account passwords are accepted over Basic on the token API only (as in Gitea).
      passwordAllowed: (req: { path: string }) => req.path.startsWith('/api/v1/'),
    };
    // Credentials in headers act on the APIs only: the web UI authenticates by its session
    // and never answers 401 (docs/ui.md), so a browser's cached Basic credentials or a
    // stale token cannot turn its pages into password prompts.
    app.use(onlyUnder('/api/', authenticate(auth)));
    // Both answer only under /api/v1/: a prefix test keeps package traffic (every Nix
    // request) from walking their routes.
    const versions = new PackageVersions(registry);
    const apiDocs = new Map<string, ModuleApiDoc>();
    app.use(onlyUnder('/api/v1/', serverVersionRouter()));
    app.use(onlyUnder('/api/v1/', tokenApiRouter({ owners, tokens, baseUrl: config.baseUrl })));
    app.use(onlyUnder('/api/v1/admin/', quotaApiRouter({ owners, registry })));
    app.use(onlyUnder('/api/v1/', packagesApiRouter({ owners, access, registry, versions, types: modules.map((m) => m.id), baseUrl: config.baseUrl })));

    await registerModules(app, modules, (module, router) => ({
      router,
      access: access.forType(module.id),
      owners,
      registry,
      blobs,
      keys,
      db: ds,
      logger: logger.child({ module: module.id }),
      metrics,
      host,
      serveBlob,
      ui: ui.registryFor(module.id, module.displayName),
      setVisibility: (decide) => access.setTypeVisibility(module.id, decide),
      versionHooks: (hooks) => versions.register(module.id, hooks),
      describeApi: (doc) => apiDocs.set(module.id, doc),
      fastRoute: (route) => fastLane.add(module.id, route),
      events,
      registerCleanupTask: (task) => cleanup.register(task),
      onShutdown: (hook) => shutdownHooks.push(hook),
    }));
    // After the modules' tasks: what a collection released is swept in the same round once its grace has passed.
    cleanup.register(stagingSweepTask(blobs, config.blobGraceMs));
    cleanup.register(blobSweepTask(registry, config.blobGraceMs));
    const scheduler = new CleanupScheduler(cleanup, config.cleanupIntervalMs, cleanupLogger);
    // Stopped first on shutdown (hooks run in reverse), before the database closes.
    shutdownHooks.push(() => scheduler.stop());
    scheduler.start();

    // The OpenAPI document, built on first request (after every module described its API).
    const openApi = openApiRouter(() => buildOpenApiDocument(config.baseUrl, apiDocs));
    app.use(onlyUnder('/api/swagger', openApi));
    app.use(onlyUnder('/swagger.v1.json', openApi));

    // The web UI answers every address outside /api/ (HTML pages and errors); it reads what modules registered.
    app.use(
      createWebUi({
        owners,
        tokens,
        signIn,
        clientAddress,
        access,
        registry,
        ui,
        secret,
        storage: registry.storage,
        baseUrl: config.baseUrl,
        registration: !config.disableRegistration,
        firstSignUpAdmin: config.firstSignUpAdmin,
        logger: logger.child({ component: 'web' }),
      }),
    );
    app.use(notFound);
    app.use(errorHandler(logger, `${config.baseUrl}/api/swagger`));

    return {
      config,
      logger,
      db,
      blobs,
      owners,
      tokens,
      signIn,
      passwords,
      access,
      registry,
      keys,
      secret,
      modules,
      ui,
      cleanup,
      app,
      handler: observeRequests(fastLane.listener(app, { auth, logger }), {
        logger,
        accessLog: config.accessLog,
        logProbes: config.accessLogProbes,
        metrics,
        clientAddress,
      }),
      metrics,
      state,
      runtime,
      close,
    };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}

export function createBlobStore(storage: StorageConfig): BlobStore {
  if (storage.kind === 'local') return createLocalBlobStore({ root: storage.path });
  return createS3BlobStore({
    endpoint: storage.endpoint,
    publicEndpoint: storage.publicEndpoint,
    region: storage.region,
    bucket: storage.bucket,
    prefix: storage.prefix,
    accessKeyId: storage.accessKeyId,
    secretAccessKey: storage.secretAccessKey,
    forcePathStyle: storage.forcePathStyle,
    stagingDir: path.join(storage.path, 'tmp'),
  });
}

/**
 * The instance's part of signing-key names (HostInfo.hostName): the host name and, when the
 * base URL names one, the port (`localhost-3000`): two instances on one host would otherwise
 * name their keys alike (`localhost-bob-1`) and a client trusting one would be shown the
 * other's name. A key name ends at its first `:` in Nix, so an IPv6 address's colons become `-`.
 */
export function keyNameHost(baseUrl: string): string {
  const url = new URL(baseUrl);
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/:/g, '-');
  return url.port ? `${host}-${url.port}` : host;
}

/** Change notices over PostgreSQL's LISTEN/NOTIFY when several processes may share the database. */
async function startClusterEvents(db: Database, url: string | undefined, logger: Logger): Promise<LocalEvents> {
  if (db.kind !== 'postgres' || !url) return new LocalEvents();
  const events = new PostgresEvents(url, (sql, params) => db.dataSource.query(sql, params), logger);
  await events.start();
  return events;
}
