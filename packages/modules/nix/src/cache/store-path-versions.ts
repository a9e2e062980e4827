import { NotFoundError, type FoundVersion, type Owner, type PackageVersionHooks, type RegistryService } from '@forge/core';
import { isStorePathHash, NIX_STORE_DIR, STORE_PATH_HASH_LENGTH } from '../format/index.js';
import type { StorePaths } from '../store/store-paths.js';
import type { StorePathDeletion } from './delete-paths.js';

/**
 * A store path is a package version (its package: the `parseDrvName` name; its version: the
 * base name `<hash>-<name>`), as the UI shows it. These hooks let the host's Gitea package API
 * name one by its hash part or full store path as well as by its base name, and delete one
 * the way the cache must: through StorePathDeletion, which keeps the cache's own rows, its
 * NARs and every process's memos right, and refuses (409) a path another path references
 * unless the caller asks for `recursive`.
 */
export function storePathVersionHooks(deps: { registry: RegistryService; paths: StorePaths; deletion: StorePathDeletion }): PackageVersionHooks {
  return {
    async resolve(owner, name, version) {
      const hashPart = hashPartNamed(version);
      if (hashPart === null) return undefined;
      const path = await deps.paths.byHash(owner.id, hashPart);
      if (!path) return null;
      const base = version.startsWith(`${NIX_STORE_DIR}/`) ? version.slice(NIX_STORE_DIR.length + 1) : version;
      if (base.length > STORE_PATH_HASH_LENGTH && base !== `${path.hashPart}-${path.name}`) return null;
      const row = await deps.registry.getVersionById(path.versionId);
      const pkg = row && (await deps.registry.getPackageById(row.packageId));
      if (!row || !pkg || pkg.lowerName !== name.toLowerCase()) return null;
      return { package: pkg, version: row };
    },

    async delete(owner: Owner, found: FoundVersion, options) {
      const path = await deps.paths.byVersion(found.version.id);
      if (!path) throw new NotFoundError('store path not found');
      await deps.deletion.delete(owner, [path.hashPart], { withDependents: options.recursive });
    },
  };
}

/** The hash part a version names (`<hash>`, `<hash>-<name>` or `/nix/store/<hash>-<name>`), or null. */
function hashPartNamed(version: string): string | null {
  const base = version.startsWith(`${NIX_STORE_DIR}/`) ? version.slice(NIX_STORE_DIR.length + 1) : version;
  const hash = base.slice(0, STORE_PATH_HASH_LENGTH);
  if (!isStorePathHash(hash)) return null;
  return base.length === STORE_PATH_HASH_LENGTH || base[STORE_PATH_HASH_LENGTH] === '-' ? hash : null;
}
