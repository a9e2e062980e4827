import { BadRequestError, type Owner, type RegistryService } from '@forge/core';
import { NIX } from '../constants.js';
import {
  assertContentAddressMatches,
  assertNarInfoMatchesNar,
  checkPathSignatures,
  fingerprintPath,
  formatContentAddress,
  NarVerificationError,
  parseDrvName,
  parseSignature,
  signPath,
  verifySignature,
  type NarInfo,
} from '../format/index.js';
import { StorePathWrites } from '../store/store-path-writes.js';
import type { StorePaths } from '../store/store-paths.js';
import type { TrustedKeys } from '../store/trusted-keys.js';
import type { CacheAccess } from './access.js';
import type { NixChanges } from './change-notices.js';
import type { NarInfoLookup } from './narinfo-lookup.js';
import { blobOf, NAR_URL, narFactsOf, narVerificationOf, ownerFileKeys, versionFileNames } from './owner-files.js';
import { refuseBadInput } from './refusals.js';
import type { NixMetrics } from './metrics.js';
import type { CacheKeys } from './signing-keys.js';
import type { Upstreams } from './upstreams.js';

export interface NarInfoToPublish {
  owner: Owner;
  /** The hash part the narinfo is published under (its URL). */
  hashPart: string;
  info: NarInfo;
  /** Who publishes it (the version's creator), null for the server itself. */
  creatorId: number | null;
  /** Provenance: the name of the token it was pushed with (none for a password, a session or the server). */
  tokenName?: string | null;
  /** Provenance: the upstream it was pulled through from (pull-through mode). */
  pulledFrom?: string | null;
}

/**
 * Publishing a narinfo: accepted only if it describes exactly what this cache holds. Its
 * StorePath is the one it is published under, its NAR was uploaded here and its NarHash,
 * NarSize, FileHash, FileSize and Compression are what the server computed, its
 * references are in this cache (or served by one of its upstreams), and every signature by a key the owner trusts verifies.
 * The server signs it, stores it as a package version with the NAR, listing and log as
 * its files, and every process forgets its old answer.
 */
export class NarInfoPublisher {
  constructor(
    private readonly deps: {
      registry: RegistryService;
      access: CacheAccess;
      keys: CacheKeys;
      trustedKeys: TrustedKeys;
      changes: NixChanges;
      lookup: NarInfoLookup;
      paths: StorePaths;
      upstreams: Upstreams;
      metrics: NixMetrics;
    },
  ) {}

  /** Stores the narinfo; `created` tells whether the path is new to this cache. */
  async publish(narinfo: NarInfoToPublish): Promise<{ created: boolean }> {
    try {
      const result = await this.#publish(narinfo);
      this.deps.metrics.accepted('narinfo');
      return result;
    } catch (err) {
      this.deps.metrics.refused('narinfo', err);
      throw err;
    }
  }

  async #publish({ owner, hashPart, info, creatorId, tokenName = null, pulledFrom = null }: NarInfoToPublish): Promise<{ created: boolean }> {
    const { registry, keys, trustedKeys } = this.deps;
    if (info.storePath.hashPart !== hashPart) {
      throw new BadRequestError(`StorePath ${info.storePath.baseName} does not match the URL ${hashPart}.narinfo`);
    }
    const urlMatch = NAR_URL.exec(info.url);
    if (!urlMatch) throw new BadRequestError(`URL "${info.url}" must be nar/<file hash>.nar[.ext], a NAR uploaded to this cache`);
    const fileName = urlMatch[1]!;
    const deriver = info.deriver?.baseName ?? null;
    // The NAR, its listing and the derivation's build log, in one query.
    const keysWanted = [ownerFileKeys.nar(fileName), ownerFileKeys.listing(fileName), ...(deriver ? [ownerFileKeys.log(deriver)] : [])];
    const files = await registry.getOwnerFiles(owner.id, NIX, keysWanted);
    const nar = files.get(ownerFileKeys.nar(fileName));
    if (!nar) throw new BadRequestError(`URL ${info.url}: that NAR has not been uploaded to this cache (upload the NAR before its narinfo)`);
    const facts = narFactsOf(nar);
    try {
      assertNarInfoMatchesNar(info, narVerificationOf(facts));
    } catch (err) {
      if (err instanceof NarVerificationError) throw new BadRequestError(err.message, { cause: err });
      throw err;
    }
    // A CA must give this StorePath (and a fixed:r:sha256 one the NarHash), as Nix checks.
    await refuseBadInput('narinfo refused', () => assertContentAddressMatches(info));

    // Signatures: well-formed (parsing checked that), none forged in the name of a server
    // key, and those by keys the owner trusts must verify. The active key first: a new cache
    // gets its key now, and its name is one of the server's from this upload on.
    const key = await keys.active(owner);
    const serverKeys = new Map([key, ...(await keys.all(owner.id))].map((k) => [k.name, k]));
    // A server key's own signature comes back in a narinfo this cache served (`nix store
    // sign` GETs and PUTs it; a path substituted from here carries it when pushed again):
    // the server keeps those itself, so they are taken out of the uploader's.
    const ownSigs: Array<{ keyId: number; sig: string }> = [];
    const uploaderSigs = info.sigs.filter((s) => {
      const serverKey = serverKeys.get(parseSignature(s).keyName);
      if (!serverKey) return true;
      if (!verifySignature(fingerprintPath(info), s, serverKey.publicKey)) {
        throw new BadRequestError(`Sig by ${serverKey.name}: that is this cache's own key, and this signature is not one it made for ${info.storePath.baseName}`);
      }
      if (serverKey.id !== key.id) ownSigs.push({ keyId: serverKey.id, sig: s });
      return false;
    });
    const checked = checkPathSignatures({ ...info, sigs: uploaderSigs }, await trustedKeys.list(owner.id));
    if (checked.invalid.length > 0) {
      throw new BadRequestError(`Sig by ${checked.invalid.join(', ')} does not verify for ${info.storePath.baseName} (the key is trusted by this cache)`);
    }

    const serverSig = signPath(info, key.secret);
    this.deps.metrics.signed('publish');
    const listing = files.get(ownerFileKeys.listing(fileName));
    const log = deriver ? files.get(ownerFileKeys.log(deriver)) : undefined;
    const references = [...new Set(info.references.map((r) => r.baseName))].sort();
    const ca = info.ca ? formatContentAddress(info.ca) : null;

    // References this cache lacks may be upstream paths: asked before the transaction (an
    // upstream request is never made while rows are locked).
    const fromUpstream = await this.upstreamReferences(owner.id, info);
    const created = await registry.write(async (tx) => {
      const writes = new StorePathWrites(tx.manager);
      await requireReferences(writes, owner.id, info, fromUpstream);
      // A deletion of this path has committed before this point (and may have taken its NAR
      // along, which this read sees; the one above was outside) or waits until we commit.
      await writes.lockPath(owner.id, hashPart);
      if (!(await writes.ownerFileForShare(owner.id, ownerFileKeys.nar(fileName)))) {
        throw new BadRequestError(`URL ${info.url}: that NAR was deleted from this cache meanwhile; upload it again`);
      }
      const drv = parseDrvName(info.storePath.name);
      const pkg = await tx.getOrCreatePackage({ ownerId: owner.id, type: NIX, name: drv.name || info.storePath.name });
      const metadata = {
        storePath: `/nix/store/${info.storePath.baseName}`,
        drvVersion: drv.version,
        narHash: `sha256:${facts.narHash}`,
        narSize: facts.narSize,
        references,
        deriver,
        ca,
      };
      const { version, created: newVersion } = await tx.getOrCreateVersion({ packageId: pkg.id, version: info.storePath.baseName, metadata, creatorId });
      if (!newVersion) await tx.updateVersionMetadata(version.id, metadata);
      await tx.putFile({ versionId: version.id, name: versionFileNames.nar(fileName), isLead: true, blob: blobOf(nar) });
      if (listing) await tx.putFile({ versionId: version.id, name: versionFileNames.listing(hashPart), blob: blobOf(listing) });
      if (deriver && log) await tx.putFile({ versionId: version.id, name: versionFileNames.log(deriver), blob: blobOf(log) });

      const row = await writes.upsert({
        ownerId: owner.id,
        hashPart,
        name: info.storePath.name,
        versionId: version.id,
        url: info.url,
        compression: facts.compression,
        fileHash: facts.fileHash,
        fileSize: facts.fileSize,
        narHash: facts.narHash,
        narSize: facts.narSize,
        narBlobId: nar.blobId,
        deriver,
        system: info.system ?? null,
        ca,
        references,
        sigs: [...new Set(uploaderSigs)].sort(),
        tokenName,
        pulledFrom,
      });
      // A path re-pushed under another version (its package name changed): the old version
      // goes, with its files; the path row already points at the new one.
      if (!row.inserted && row.replacedVersionId !== null && row.replacedVersionId !== version.id) await tx.deleteVersion(row.replacedVersionId);
      await writes.replaceReferences(row.id, owner.id, [...new Set(info.references.map((r) => r.hashPart as string))], row.inserted);
      await writes.replaceServerSignatures(row.id, { keyId: key.id, sig: serverSig }, ownSigs, row.inserted);
      return row.inserted;
    });
    // Every process forgets its old answer; this one keeps the new narinfo ready.
    this.deps.changes.path(owner.id, hashPart);
    await this.deps.lookup.refresh(owner.id, hashPart);
    await this.deps.access.enableAfterUpload(owner);
    return { created };
  }

  /** Hash parts of references not stored here that an upstream serves under the same name. */
  private async upstreamReferences(ownerId: number, info: NarInfo): Promise<Set<string>> {
    const others = info.references.filter((r) => r.hashPart !== info.storePath.hashPart);
    // Without upstreams (memoised list) this costs no query.
    if (others.length === 0 || (await this.deps.upstreams.list(ownerId)).length === 0) return new Set();
    const present = await this.deps.paths.present(ownerId, others.map((r) => r.hashPart));
    const absent = new Map(others.filter((r) => present.get(r.hashPart) !== r.name).map((r) => [r.hashPart as string, r.name]));
    const { provided, unknown } = await this.deps.upstreams.provided(ownerId, absent);
    if (unknown && provided.size < absent.size) {
      const left = [...absent.keys()].filter((h) => !provided.has(h));
      throw new BadRequestError(`References not in this cache, and an upstream could not be asked about them now: ${left.slice(0, 5).join(', ')}. Try again later, or push them.`);
    }
    return provided;
  }
}

/**
 * Every reference (other than the path itself and upstream paths) must be in this cache under the same name,
 * its row locked (FOR SHARE) so a concurrent deletion cannot leave this narinfo pointing at
 * a path that is gone.
 */
async function requireReferences(writes: StorePathWrites, ownerId: number, info: NarInfo, fromUpstream: ReadonlySet<string>): Promise<void> {
  const others = info.references.filter((r) => r.hashPart !== info.storePath.hashPart && !fromUpstream.has(r.hashPart));
  if (others.length === 0) return;
  const present = await writes.presentForShare(ownerId, others.map((r) => r.hashPart));
  const missing = others.filter((r) => present.get(r.hashPart) !== r.name).map((r) => r.baseName);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
    throw new BadRequestError(`References not in this cache: ${shown}. Push the references first (nix copy does).`);
  }
}
