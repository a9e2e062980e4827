/**
 * Cleanup tasks: periodic work that frees storage (a Nix cache's garbage collection, the
 * blob sweeps, leftovers of crashed uploads). Modules and the host register them with
 * `ModuleContext.registerCleanupTask`; the host runs them one at a time, every
 * `FORGE_CLEANUP_INTERVAL` and on demand (`forge admin cleanup`), with at most one
 * runner among all server processes sharing a database. The host knows nothing of what
 * a task does: there is no switch on package types.
 */

/** Where a task is; `total` when it is known. Reported often, rendered as a progress bar. */
export interface CleanupProgress {
  /** What is being done now, e.g. `collect alice`, `sweep blobs`. */
  step: string;
  done: number;
  total?: number;
}

export interface CleanupRunOptions {
  /** Report what would go without removing anything. */
  dryRun: boolean;
  /**
   * Only this owner's data (`forge admin cleanup --owner NAME`). Tasks that are not per
   * owner (the blob sweeps) run only when no owner is named.
   */
  ownerId?: number;
  onProgress?: (progress: CleanupProgress) => void;
  /** Aborted when the server shuts down: stop between batches, leaving a consistent state. */
  signal?: AbortSignal;
}

/** What a task did (or would do, in a dry run): a line for people, numbers for machines. */
export interface CleanupResult {
  /** One line, e.g. `3 store paths (1.2 MiB) from 2 caches`. */
  summary: string;
  /** Bytes of storage freed (or that would be freed); what people care about most. */
  bytes: number;
  /** One line per thing removed (or that would be), for people: `forge admin cleanup` prints them. */
  lines?: string[];
  /** Task-specific detail (paths removed, …) for programs. */
  details?: unknown;
}

export interface CleanupTask {
  /** Unique, short, lowercase, e.g. `nix-gc`, `blob-sweep`. */
  readonly name: string;
  /** Whether the task honours `ownerId` (per-owner work) or is host-wide. */
  readonly perOwner: boolean;
  run(options: CleanupRunOptions): Promise<CleanupResult>;
}
