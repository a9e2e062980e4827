import type { Owner } from './owners.js';
import type { PackageRecord, VersionRecord } from './registry.js';

/** A version the host's package API found, with its package. */
export interface FoundVersion {
  package: PackageRecord;
  version: VersionRecord;
}

/**
 * How the host's generic version API (Gitea's `/api/v1/packages/{owner}/{type}/{name}/{version}`:
 * get one, list its files, delete it) treats a package type whose versions are more than
 * the registry's rows. A type that registers none gets the defaults: the version is the
 * registry's row of that name, and deleting it deletes that row with its files. A Nix store
 * path is a version, also named by its hash part, and deleting one goes through the
 * module's own deletion (its tables, its change notices, what depends on it).
 */
export interface PackageVersionHooks {
  /**
   * Finds the version a request names (the owner's read access was checked). Return
   * `undefined` to fall back to the default lookup, `null` for "no such version".
   */
  resolve?(owner: Owner, name: string, version: string): Promise<FoundVersion | null | undefined>;
  /**
   * Deletes a version the owner's write access was checked for. `recursive` asks to delete
   * what depends on it too, where the type has such a thing; without it, a version
   * something depends on is refused with a ConflictError.
   */
  delete?(owner: Owner, found: FoundVersion, options: { recursive: boolean }): Promise<void>;
}
