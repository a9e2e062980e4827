/**
 * The Nix cache's use cases: what the HTTP routes, the UI pages, the fast lane and (later)
 * jobs and a CLI all call, with no express in sight and no SQL (that is `store/`). Each
 * takes an owner the caller was allowed to act for (the host's access guard decided that)
 * and plain values, and answers with facts or a typed error from @forge/core, which the
 * host maps to HTTP statuses in one place. See docs/architecture.md.
 */
import type { ModuleContext, Owner, PackageRecord, PackageVersionHooks, VersionRecord } from '@forge/core';
import { AccessRecorder } from '../store/access-recorder.js';
import { CacheSettingsStore } from '../store/caches.js';
import { PathSignatures } from '../store/path-signatures.js';
import { Pins } from '../store/pins.js';
import { StorePaths, type StorePathRecord } from '../store/store-paths.js';
import { TrustedKeys } from '../store/trusted-keys.js';
import { UpstreamStore } from '../store/upstreams.js';
import { CacheAccess } from './access.js';
import { CacheAdministration } from './administration.js';
import { AuxFiles } from './aux-files.js';
import { CacheCollection } from './collection.js';
import { CachePins } from './pins.js';
import { NixChanges } from './change-notices.js';
import { StorePathDeletion } from './delete-paths.js';
import { describeSignatures, type SignatureRow } from './describe-signatures.js';
import { PathContents } from './nar-contents.js';
import { NarFileMemo } from './nar-file-memo.js';
import { NarFiles } from './nar-files.js';
import { NarInfoLookup } from './narinfo-lookup.js';
import { NARINFO_MEMO_BYTES, NarInfoMemo } from './narinfo-memo.js';
import { NarInfoRenderer } from './narinfo-render.js';
import { NarInfoPublisher } from './publish-narinfo.js';
import { DEFAULT_PULL_THROUGH_LIMITS, PullThrough, type PullThroughLimits } from './pull-through.js';
import { CacheKeys } from './signing-keys.js';
import { NixMetrics } from './metrics.js';
import { storePathVersionHooks } from './store-path-versions.js';
import { StorePathExplorer } from './store-path-facts.js';
import { DEFAULT_UPSTREAM_LIMITS, UpstreamClient, type UpstreamErrorHook, type UpstreamLimits } from './upstream-client.js';
import { Upstreams, UpstreamPolicy } from './upstreams.js';

export { cacheVisibility, type CacheContext } from './access.js';
export type { CacheOverview } from './administration.js';
export { derivationName, documentKey, type DocumentKind } from './aux-files.js';
export type { CollectedItem, CollectionReason, CollectionReport } from './collection.js';
export type { CollectedBatch, DeleteOptions, PlannedDeletion } from './delete-paths.js';
export type { PinView } from './pins.js';
export type { SignatureRow } from './describe-signatures.js';
export type { FilePreview } from './nar-contents.js';
export { LISTING_READERS } from './nar-contents.js';
export type { ExpectedNar, NarUploadLimits } from './nar-files.js';
export type { ServedNarInfo } from './narinfo-lookup.js';
export { NARINFO_MEMO_BYTES } from './narinfo-memo.js';
export { narFileNameOf, type NarFileFacts } from './owner-files.js';
export type { NarInfoToPublish } from './publish-narinfo.js';
export { refuseBadInput } from './refusals.js';
export type { CacheKey } from './signing-keys.js';
export type { Provenance, StorePathFacts } from './store-path-facts.js';
export { DEFAULT_PULL_THROUGH_LIMITS, type PullThroughLimits } from './pull-through.js';
export { DEFAULT_UPSTREAM_LIMITS, type UpstreamErrorHook, type UpstreamLimits } from './upstream-client.js';
export { DEFAULT_UPSTREAM_ALLOW, MAX_UPSTREAMS, upstreamNarPrefix, type UpstreamHit } from './upstreams.js';
export type { UpstreamMode, UpstreamRecord } from '../store/upstreams.js';
export type { CacheSettings, CacheVisibility } from '../store/caches.js';
export { DEFAULT_PRIORITY } from '../store/caches.js';
export type { StorePathPage, StorePathRecord, StorePathSort } from '../store/store-paths.js';

/** What the use cases need from the host (no router, no pages: a job or a CLI has these too). */
export type CacheHost = Pick<ModuleContext, 'registry' | 'owners' | 'keys' | 'events' | 'db' | 'logger' | 'host' | 'onShutdown'> & Partial<Pick<ModuleContext, 'metrics'>>;

/** The Nix module's application: every use case, built once from the host's services. */
export interface NixCache {
  /** Whether a cache exists and who reads it (its visibility). */
  access: CacheAccess;
  /** NAR uploads and downloads. */
  nars: NarFiles;
  /** Narinfo lookups for serving (memo, render, access record). */
  narinfos: NarInfoLookup;
  /** Narinfo uploads. */
  publisher: NarInfoPublisher;
  /** Deleting store paths, with or without what depends on them. */
  deletion: StorePathDeletion;
  /** Garbage collection: retention, size limit, orphan uploads (docs/garbage-collection.md). */
  collection: CacheCollection;
  /** Named roots that collection never takes. */
  pins: CachePins;
  /** Store paths as package versions in the host's package API (by hash part too; deleted through `deletion`). */
  versionHooks: PackageVersionHooks;
  /** nix-cache-info, listings, build logs, realisations, debuginfo. */
  files: AuxFiles;
  /** Settings, signing keys, trusted uploader keys. */
  admin: CacheAdministration;
  /** Upstream caches: configuring them, asking them for paths this cache lacks. */
  upstreams: Upstreams;
  /** Storing upstream paths on first fetch (upstreams in pull-through mode). */
  pullThrough: PullThrough;
  /** Reading a cache's store paths: lookups and pages of them, closures, referrers, figures. */
  paths: StorePaths;
  /** One stored path with its provenance and closure figures (the store-path API, the path page). */
  explorer: StorePathExplorer;
  /** What is inside a stored path: its NAR's files and listing, its build log. */
  contents: PathContents;
  /** The narinfo of a stored path as served (for pages that show it). */
  renderer: NarInfoRenderer;
  /** Every signature a path is served with, checked against the keys the cache knows. */
  signaturesOf(path: StorePathRecord, narinfo: Buffer): Promise<SignatureRow[]>;
  /** The package version a path is stored as, and who pushed it. */
  versionOf(path: StorePathRecord): Promise<{ version: VersionRecord; package: PackageRecord | null; creator: Owner | null } | null>;
  /** The substituter URL of an owner's cache (the public base URL: what clients are configured with). */
  substituterUrl(owner: Owner): string;
}

/** Limits of the cache's work and memory (docs/security.md). */
export interface NixCacheOptions {
  /** How many NAR uploads are verified at once (the others wait). Default 4. */
  concurrentNarVerifications?: number;
  /** How many of those one owner may hold at once, so one owner cannot stall the others. Default half of them (at least 1). */
  narVerificationsPerOwner?: number;
  /** The largest NAR an upload may inflate to, as a multiple of the upload limit (bounds decompression bombs). Default 64. */
  narInflationFactor?: number;
  /** Most bytes of rendered narinfos each server process keeps in memory. Default {@link NARINFO_MEMO_BYTES}. */
  narinfoMemoBytes?: number;
  /** Upstream caches (docs/nix-cache.md#upstream-caches). */
  upstreams?: {
    /** Origins owners may name as upstreams (`https://*`: any HTTPS URL; empty: none). Default {@link DEFAULT_UPSTREAM_ALLOW}. */
    allow?: readonly string[];
    limits?: Partial<UpstreamLimits>;
    pullThrough?: Partial<PullThroughLimits>;
    /** Called for every failed upstream request (a metric). */
    onError?: UpstreamErrorHook;
  };
}

export function createNixCache(ctx: CacheHost, options: NixCacheOptions = {}): NixCache {
  const changes = new NixChanges(ctx.events, ctx.logger);
  const ownerChanged = (ownerId: number) => changes.owner(ownerId);
  const settings = new CacheSettingsStore(ctx.db, ownerChanged);
  const keys = new CacheKeys(ctx.keys, ctx.host.hostName, ownerChanged);
  const trustedKeys = new TrustedKeys(ctx.db, ownerChanged);
  const narinfoMemo = new NarInfoMemo({ maxBytes: options.narinfoMemoBytes });
  const narFileMemo = new NarFileMemo();
  const accesses = new AccessRecorder(ctx.db, ctx.logger);
  ctx.onShutdown(() => accesses.flush());

  // Every memo forgets what a change notice (from this process or another) says changed.
  const upstreamStore = new UpstreamStore(ctx.db, ownerChanged);
  changes.onOwner((ownerId) => {
    settings.forget(ownerId);
    upstreamStore.forget(ownerId);
    keys.forget(ownerId);
    trustedKeys.forget(ownerId);
    narinfoMemo.invalidateOwner(ownerId);
  });
  changes.onPath((ownerId, hashPart) => narinfoMemo.invalidate(ownerId, hashPart));
  changes.onNar((ownerId, fileName) => narFileMemo.forget(ownerId, fileName));
  changes.onReset(() => {
    settings.clear();
    upstreamStore.clear();
    keys.clear();
    trustedKeys.clear();
    narinfoMemo.clear();
    narFileMemo.clear();
  });

  const { registry } = ctx;
  const metrics = new NixMetrics(ctx.metrics);
  const paths = new StorePaths(ctx.db);
  const access = new CacheAccess(settings);
  const render = new NarInfoRenderer(keys, new PathSignatures(ctx.db), metrics);
  const onUpstreamError: UpstreamErrorHook = (url, reason) => {
    metrics.upstreamError();
    options.upstreams?.onError?.(url, reason);
  };
  const upstreamClient = new UpstreamClient({ ...DEFAULT_UPSTREAM_LIMITS, ...options.upstreams?.limits }, ctx.logger, onUpstreamError);
  const upstreams = new Upstreams(upstreamStore, upstreamClient, new UpstreamPolicy(options.upstreams?.allow));
  const narinfos = new NarInfoLookup(narinfoMemo, paths, render, accesses, metrics, upstreams);
  const maxUpload = ctx.host.maxUploadBytes;
  const deletion = new StorePathDeletion({ registry, changes });
  const pinStore = new Pins(ctx.db);
  const nars = new NarFiles(
    { registry, access, changes, memo: narFileMemo, metrics },
    {
      maxFileSize: maxUpload,
      maxNarSize: maxUpload * (options.narInflationFactor ?? 64),
      concurrentVerifications: options.concurrentNarVerifications ?? 4,
      verificationsPerOwner: options.narVerificationsPerOwner ?? Math.max(1, Math.floor((options.concurrentNarVerifications ?? 4) / 2)),
    },
  );
  const publisher = new NarInfoPublisher({ registry, access, keys, trustedKeys, changes, lookup: narinfos, paths, upstreams, metrics });
  return {
    access,
    nars,
    narinfos,
    publisher,
    upstreams,
    pullThrough: new PullThrough(
      { upstreams, nars, publisher, paths, logger: ctx.logger },
      { ...DEFAULT_PULL_THROUGH_LIMITS, ...options.upstreams?.pullThrough },
    ),
    deletion,
    collection: new CacheCollection({
      db: ctx.db,
      registry,
      owners: ctx.owners,
      settings,
      pins: pinStore,
      deletion,
      accesses,
      changes,
      logger: ctx.logger,
      uploadGraceMs: ctx.host.uploadGraceMs,
    }),
    pins: new CachePins({ registry, pins: pinStore }),
    versionHooks: storePathVersionHooks({ registry, paths, deletion }),
    files: new AuxFiles({ registry, access, paths }),
    admin: new CacheAdministration({ settings, keys, trustedKeys }),
    paths,
    explorer: new StorePathExplorer({ paths, registry, owners: ctx.owners }),
    contents: new PathContents(registry),
    renderer: render,
    signaturesOf: (path, narinfo) => describeSignatures(keys, trustedKeys, path, narinfo),
    async versionOf(path) {
      const version = await registry.getVersionById(path.versionId);
      if (!version) return null;
      const [pkg, creator] = await Promise.all([
        registry.getPackageById(version.packageId),
        version.creatorId ? ctx.owners.findById(version.creatorId) : null,
      ]);
      return { version, package: pkg, creator };
    },
    substituterUrl: (owner) => `${ctx.host.baseUrl}/api/packages/${encodeURIComponent(owner.name)}/nix`,
  };
}
