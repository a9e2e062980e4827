import type { Router } from 'express';
import type { DataSource, EntitySchema, MixedList } from 'typeorm';
import type { AccessGuard, OwnerDirectory, VisibilityRule } from './access.js';
import type { BlobStore } from './blob-store.js';
import type { CleanupTask } from './cleanup.js';
import type { ClusterEvents } from './events.js';
import type { ServeBlob } from './http.js';
import type { FastRoute } from './fast-route.js';
import type { KeyService } from './keys.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import type { PackageVersionHooks } from './package-versions.js';
import type { RegistryService } from './registry.js';
import type { UiRegistry } from './ui.js';

/**
 * Version of the module contract. The host refuses, at start-up, a module built against
 * another version (Verdaccio checks its plugin API the same way, but we fail loudly).
 */
export const MODULE_API_VERSION = 1;

/** What the host knows about where it is served. */
export interface HostInfo {
  /** Public base URL without a trailing slash, e.g. `https://forge.example`. */
  baseUrl: string;
  /**
   * The instance's name in key names (`HOST-OWNER-1`): the base URL's host name, with its
   * port when the URL names one (`127.0.0.1-3000`), so two instances on one machine make
   * different key names; e.g. `forge.example`. Never contains `:` (it ends a Nix key name).
   */
  hostName: string;
  /** Upper bound for one uploaded body, in bytes. */
  maxUploadBytes: number;
  /**
   * How long a file uploaded ahead of what completes it (a NAR before its narinfo) is
   * kept waiting for it before cleanup removes it (`FORGE_UPLOAD_GRACE`, default 1h).
   */
  uploadGraceMs: number;
  /**
   * Longest wait for the next bytes of a request body being read (`FORGE_BODY_IDLE_TIMEOUT`,
   * default 30 s); read bodies through `requestBody(req, { idleTimeoutMs })`.
   */
  bodyIdleTimeoutMs: number;
}

/** Everything a module receives from the host. Modules reach for nothing else. */
export interface ModuleContext {
  /** Mounted at `/api/packages/:owner/<module id>`; `req.params.owner` is the owner name. */
  router: Router;
  /** Bound to this module's type: applies the visibility declared with `setVisibility`. */
  access: AccessGuard;
  owners: OwnerDirectory;
  registry: RegistryService;
  blobs: BlobStore;
  keys: KeyService;
  /** Change notices to every server process, for invalidating the module's memos. */
  events: ClusterEvents;
  /** For the module's own tables (prefixed with its id); writes go through `registry.write`. */
  db: DataSource;
  logger: Logger;
  /** Counters and histograms for `/metrics` (no-ops unless the operator turned metrics on). */
  metrics: Metrics;
  host: HostInfo;
  /** A hot read matched before express (see FastRoute); the express route stays the reference. */
  fastRoute(route: FastRoute): void;
  /** Answers a GET/HEAD with a stored blob (ranges, HEAD, ETag); the host picks the fastest way. */
  serveBlob: ServeBlob;
  /** Where the module contributes web UI pages and panels. */
  ui: UiRegistry;
  /**
   * Declares who may read this owner's packages of this type when that differs from the
   * owner's own visibility (a Nix cache can be private under a public owner). The host
   * applies it wherever it lists or shows packages of this type, and so do `access` and
   * the UI helpers' `context` handed to this module.
   */
  setVisibility(decide: VisibilityRule): void;
  /**
   * Adds periodic storage work (a collection, a sweep) that the host runs one task at a
   * time every `FORGE_CLEANUP_INTERVAL` and on demand (`forge admin cleanup`), in one
   * server process at a time. Names are unique across the server.
   */
  registerCleanupTask(task: CleanupTask): void;
  /**
   * How the host's package API (get, list files, delete a version) treats this type's
   * versions, when the registry's rows are not the whole story (see PackageVersionHooks).
   */
  versionHooks(hooks: PackageVersionHooks): void;
  /**
   * The OpenAPI description of the module's JSON API (its routes under `/-/`), merged into
   * the host's document at `/api/swagger`: `paths` are relative to the module's mount
   * (`/-/settings`), and a test checks them against the routes the module registered.
   */
  describeApi(doc: ModuleApiDoc): void;
  /** Called when the server shuts down (timers, pending writes). */
  onShutdown(hook: () => Promise<void> | void): void;
}

/** A module's part of the OpenAPI document (OpenAPI 3.0 path items and component schemas). */
export interface ModuleApiDoc {
  paths: Record<string, Record<string, unknown>>;
  schemas?: Record<string, Record<string, unknown>>;
}

export interface PackageTypeModule {
  /** URL segment and `package.type` value, e.g. `nix`. Lowercase letters, digits and dashes. */
  readonly id: string;
  /** Must equal MODULE_API_VERSION. */
  readonly apiVersion: number;
  /** Human name for the UI, e.g. `Nix`. */
  readonly displayName: string;
  /** TypeORM migration classes for the module's own tables (names prefixed with the id). */
  readonly migrations?: MixedList<Function>;
  /** Entity schemas for the module's own tables, if it uses repositories. */
  readonly entities?: EntitySchema[];
  register(ctx: ModuleContext): void | Promise<void>;
  /**
   * What the module runs on where a choice is made at run time (`{ zstd: 'libzstd' }` or
   * its JavaScript fallback): named in the start-up log line and in `forge_info`.
   */
  describeRuntime?(): Record<string, string>;
}
