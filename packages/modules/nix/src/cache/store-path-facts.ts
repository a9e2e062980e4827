import type { OwnerDirectory, RegistryService } from '@forge/core';
import type { StorePathRecord, StorePaths } from '../store/store-paths.js';

/** Who put a path in the cache: a user with a token (by name), a user without one, or the server pulling it from an upstream. */
export interface Provenance {
  /** The user who pushed it; null when the server stored it (pull-through) or the user is gone. */
  user: string | null;
  /** The token's name; null for a password or session push, or when the server stored it. */
  token: string | null;
  /** The upstream it was pulled through from (pull-through mode), else null. */
  pulledFrom: string | null;
  at: Date;
}

/** Everything the store-path API and page say about one path. */
export interface StorePathFacts {
  path: StorePathRecord;
  provenance: Provenance;
  closure: { count: number; narSize: number };
  referrers: number;
}

/**
 * Reading one stored path with its provenance, closure figures and referrer count: what
 * the store-path API answers and the store path page shows.
 */
export class StorePathExplorer {
  constructor(
    private readonly deps: { paths: StorePaths; registry: RegistryService; owners: OwnerDirectory },
  ) {}

  async facts(ownerId: number, hashPart: string): Promise<StorePathFacts | null> {
    const path = await this.deps.paths.byHash(ownerId, hashPart);
    if (!path) return null;
    const [provenance, closure, referrers] = await Promise.all([
      this.provenance(path),
      this.deps.paths.closure(ownerId, hashPart),
      this.deps.paths.referrerCount(ownerId, hashPart),
    ]);
    return { path, provenance, closure, referrers };
  }

  async provenance(path: StorePathRecord): Promise<Provenance> {
    const version = await this.deps.registry.getVersionById(path.versionId);
    const creator = version?.creatorId ? await this.deps.owners.findById(version.creatorId) : null;
    return { user: creator?.name ?? null, token: path.tokenName, pulledFrom: path.pulledFrom, at: path.createdAt };
  }
}
