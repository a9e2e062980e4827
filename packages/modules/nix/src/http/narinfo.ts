import type { ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  type BlobRecord,
  type Owner,
  type RegistryTransaction,
} from '@forge/core';
import { NIX } from '../constants.js';
import {
  assertContentAddressMatches,
  checkPathSignatures,
  fingerprintPath,
  formatContentAddress,
  formatHash,
  isStorePathHash,
  parseDrvName,
  parseNarInfo,
  parseSignature,
  signPath,
  verifySignature,
  type NarInfo,
} from '../format/index.js';
import type { NixServices } from '../services.js';
import { StorePaths, type StorePathRecord } from '../store/store-paths.js';
import { asBadRequest, readSmallBody } from './body.js';
import { cacheControl } from './cache-control.js';
import { listingKey, narKey, type NarFileFacts } from './nar-files.js';
import { renderNarInfo } from './narinfo-render.js';

const NARINFO_LIMIT = 4 * 1024 * 1024;
const NAR_URL = /^nar\/([0-9a-df-np-sv-z]{52}\.nar(?:\.[a-z0-9]+)?)$/;

const nix32 = (h: NarInfo['narHash']) => formatHash(h, 'nix32').slice('sha256:'.length);

function hashFromParam(req: Request): string {
  const hash = String(req.params.hash);
  if (!isStorePathHash(hash)) throw new NotFoundError(`"${hash}" is not a store path hash`);
  return hash;
}

/** GET/HEAD `<hash>.narinfo`, from the memo when it can (plain node response API: it also runs in the fast lane). */
async function answerNarInfo(nix: NixServices, req: Request, res: ServerResponse, hash: string): Promise<void> {
  const { owner, settings } = await nix.cache.read(req);
  let entry = nix.narinfos.get(owner.id, hash);
  if (!entry) {
    const epoch = nix.narinfos.epoch();
    const found = await nix.storePaths.byHashWithSignatures(owner.id, hash);
    entry = { body: found ? await renderNarInfo(nix, found.path, found.signatures) : null, pathId: found?.path.id ?? 0 };
    nix.narinfos.set(owner.id, hash, entry.body, entry.pathId, epoch);
  }
  if (!entry.body) throw new NotFoundError(`${hash}.narinfo does not exist in this cache`);
  nix.accesses.record(entry.pathId);
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/x-nix-narinfo');
  res.setHeader('Content-Length', String(entry.body.length));
  res.setHeader('Cache-Control', cacheControl(owner, settings, 0));
  res.end(req.method === 'HEAD' ? undefined : entry.body);
}

export function narInfoRoutes(nix: NixServices): void {
  const { router } = nix.ctx;

  router.get('/:hash.narinfo', (req: Request, res: Response) => answerNarInfo(nix, req, res, hashFromParam(req)));
  // The hottest request a Nix cache answers: also matched before express routing.
  nix.ctx.fastRoute({
    pattern: /^([0-9a-df-np-sv-z]{32})\.narinfo$/,
    handle: (req, res, match) => answerNarInfo(nix, req as unknown as Request, res, match[1]!),
  });

  router.put('/:hash.narinfo', async (req: Request, res: Response) => {
    const hash = hashFromParam(req);
    const { owner } = await nix.cache.write(req);
    const body = await readSmallBody(req, NARINFO_LIMIT);
    const info = await asBadRequest('invalid narinfo', () => parseNarInfo(body));
    const created = await storeNarInfo(nix, owner, hash, info, nix.ctx.access.actor(req).user?.id ?? null);
    await nix.cache.enable(owner);
    res.status(created ? 201 : 200).end();
  });

  router.delete('/:hash.narinfo', async (req: Request, res: Response) => {
    const hash = hashFromParam(req);
    const { owner } = await nix.cache.write(req);
    const recursive = ['1', 'true', 'yes'].includes(String(req.query.recursive ?? '').toLowerCase());
    const deleted = await deleteStorePaths(nix, owner, hash, recursive);
    res.status(200).type('text/plain').send(deleted.map((p) => `deleted /nix/store/${p.hashPart}-${p.name}`).join('\n') + '\n');
  });
}

/**
 * Accepts a narinfo only if it describes exactly what this cache holds: its StorePath is
 * the URL's, its NAR was uploaded here and its NarHash, NarSize, FileHash, FileSize and
 * Compression are what the server computed, its references are in this cache, and every
 * signature by a key the owner trusts verifies. Returns whether the path is new.
 */
export async function storeNarInfo(nix: NixServices, owner: Owner, urlHash: string, info: NarInfo, creatorId: number | null): Promise<boolean> {
  const { registry } = nix.ctx;
  if (info.storePath.hashPart !== urlHash) {
    throw new BadRequestError(`StorePath ${info.storePath.baseName} does not match the URL ${urlHash}.narinfo`);
  }
  const urlMatch = NAR_URL.exec(info.url);
  if (!urlMatch) throw new BadRequestError(`URL "${info.url}" must be nar/<file hash>.nar[.ext], a NAR uploaded to this cache`);
  const fileName = urlMatch[1]!;
  const deriver = info.deriver?.baseName ?? null;
  // The NAR, its listing and the derivation's build log, in one query.
  const files = await registry.getOwnerFiles(owner.id, NIX, [narKey(fileName), listingKey(fileName), ...(deriver ? [`log/${deriver}`] : [])]);
  const nar = files.get(narKey(fileName));
  if (!nar) throw new BadRequestError(`URL ${info.url}: that NAR has not been uploaded to this cache (upload the NAR before its narinfo)`);
  const facts = nar.properties as unknown as NarFileFacts;
  const mismatch = (field: string, said: string | number, actual: string | number) =>
    new BadRequestError(`${field} mismatch: the narinfo says ${said}, but the NAR uploaded at ${info.url} has ${actual}`);
  if (info.compression !== facts.compression) throw mismatch('Compression', info.compression, facts.compression);
  if (nix32(info.narHash) !== facts.narHash) throw mismatch('NarHash', `sha256:${nix32(info.narHash)}`, `sha256:${facts.narHash}`);
  if (info.narSize !== facts.narSize) throw mismatch('NarSize', info.narSize, facts.narSize);
  if (info.fileHash && nix32(info.fileHash) !== facts.fileHash) throw mismatch('FileHash', `sha256:${nix32(info.fileHash)}`, `sha256:${facts.fileHash}`);
  if (info.fileSize !== undefined && info.fileSize !== facts.fileSize) throw mismatch('FileSize', info.fileSize, facts.fileSize);
  // A CA must give this StorePath (and a fixed:r:sha256 one the NarHash), as Nix checks.
  await asBadRequest('narinfo refused', () => assertContentAddressMatches(info));

  // Signatures: well-formed (parsing checked that), none forged in the name of a server
  // key, and those by keys the owner trusts must verify. The active key first: a new cache
  // gets its key now, and its name is one of the server's from this upload on.
  const key = await nix.keys.active(owner);
  const serverKeys = new Map([key, ...(await nix.keys.all(owner.id))].map((k) => [k.name, k]));
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
  const checked = checkPathSignatures({ ...info, sigs: uploaderSigs }, await nix.trustedKeys.list(owner.id));
  if (checked.invalid.length > 0) {
    throw new BadRequestError(`Sig by ${checked.invalid.join(', ')} does not verify for ${info.storePath.baseName} (the key is trusted by this cache)`);
  }

  const serverSig = signPath(info, key.secret);
  const listing = files.get(listingKey(fileName));
  const narBlob: BlobRecord = { id: nar.blobId, sha256: nar.sha256, size: nar.size, createdAt: nar.createdAt };
  const references = [...new Set(info.references.map((r) => r.baseName))].sort();
  const log = deriver ? files.get(`log/${deriver}`) : undefined;

  const created = await registry.write(async (tx) => {
    await requireReferences(tx, owner.id, info);
    // A deletion of this path has committed before this point (and may have taken its NAR
    // along, which this read sees; the one above was outside) or waits until we commit.
    await lockStorePath(tx, owner.id, urlHash);
    if (!(await registry.getOwnerFile(owner.id, NIX, narKey(fileName)))) {
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
      ca: info.ca ? formatContentAddress(info.ca) : null,
    };
    const { version, created: newVersion } = await tx.getOrCreateVersion({ packageId: pkg.id, version: info.storePath.baseName, metadata, creatorId });
    if (!newVersion) await tx.updateVersionMetadata(version.id, metadata);
    await tx.putFile({ versionId: version.id, name: `nar/${fileName}`, isLead: true, blob: narBlob });
    if (listing) {
      await tx.putFile({ versionId: version.id, name: `${urlHash}.ls`, blob: { id: listing.blobId, sha256: listing.sha256, size: listing.size, createdAt: listing.createdAt } });
    }
    if (deriver && log) {
      await tx.putFile({ versionId: version.id, name: `log/${deriver}`, blob: { id: log.blobId, sha256: log.sha256, size: log.size, createdAt: log.createdAt } });
    }

    // The row this replaces, if any, read in the same statement (the path's lock is held).
    const [row] = await tx.manager.query(
      `WITH old AS (SELECT version_id FROM nix_store_path WHERE owner_id = $1 AND hash_part = $2)
       INSERT INTO nix_store_path (owner_id, hash_part, name, version_id, url, compression, file_hash, file_size, nar_hash, nar_size,
         nar_blob_id, deriver, system, ca, refs, sigs)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
       ON CONFLICT (owner_id, hash_part) DO UPDATE SET name = EXCLUDED.name, version_id = EXCLUDED.version_id, url = EXCLUDED.url,
         compression = EXCLUDED.compression, file_hash = EXCLUDED.file_hash, file_size = EXCLUDED.file_size,
         nar_hash = EXCLUDED.nar_hash, nar_size = EXCLUDED.nar_size, nar_blob_id = EXCLUDED.nar_blob_id, deriver = EXCLUDED.deriver,
         system = EXCLUDED.system, ca = EXCLUDED.ca, refs = EXCLUDED.refs, sigs = EXCLUDED.sigs
       RETURNING id, (xmax = 0) AS inserted, (SELECT version_id FROM old) AS old_version_id`,
      [
        owner.id,
        urlHash,
        info.storePath.name,
        version.id,
        info.url,
        facts.compression,
        facts.fileHash,
        facts.fileSize,
        facts.narHash,
        facts.narSize,
        nar.blobId,
        deriver,
        info.system ?? null,
        info.ca ? formatContentAddress(info.ca) : null,
        references.join(' '),
        [...new Set(uploaderSigs)].sort().join('\n'),
      ],
    );
    const pathId = Number(row.id);
    const inserted = Boolean(row.inserted);
    // A path re-pushed under another version (its package name changed): the old version
    // goes, with its files; the path row already points at the new one.
    if (!inserted && row.old_version_id !== null && Number(row.old_version_id) !== version.id) await tx.deleteVersion(Number(row.old_version_id));
    // A new row has no references or signatures to replace.
    if (!inserted) await tx.manager.query(`DELETE FROM nix_reference WHERE path_id = $1`, [pathId]);
    const refHashes = [...new Set(info.references.map((r) => r.hashPart as string))];
    if (refHashes.length > 0) {
      await tx.manager.query(
        `INSERT INTO nix_reference (path_id, owner_id, ref_hash) SELECT $1, $2, unnest($3::char(32)[])`,
        [pathId, owner.id, refHashes],
      );
    }
    if (!inserted) await tx.manager.query(`DELETE FROM nix_path_signature WHERE path_id = $1`, [pathId]);
    await tx.manager.query(`INSERT INTO nix_path_signature (path_id, key_id, sig) VALUES ($1, $2, $3)`, [pathId, key.id, serverSig]);
    for (const own of ownSigs) {
      await tx.manager.query(`INSERT INTO nix_path_signature (path_id, key_id, sig) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [pathId, own.keyId, own.sig]);
    }
    return inserted;
  });
  // Every process forgets its old answer; this one keeps the new narinfo ready, so a
  // client's first look after a push costs no query (write-through).
  nix.changes.path(owner.id, urlHash);
  const epoch = nix.narinfos.epoch();
  const stored = await nix.storePaths.byHashWithSignatures(owner.id, urlHash);
  if (stored) nix.narinfos.set(owner.id, urlHash, await renderNarInfo(nix, stored.path, stored.signatures), stored.path.id, epoch);
  return created;
}

/**
 * Every reference (other than the path itself) must be in this cache under the same name.
 * The rows are locked (FOR SHARE) so a concurrent deletion cannot leave this narinfo
 * pointing at a path that is gone.
 */
async function requireReferences(tx: RegistryTransaction, ownerId: number, info: NarInfo): Promise<void> {
  const others = info.references.filter((r) => r.hashPart !== info.storePath.hashPart);
  if (others.length === 0) return;
  const rows: Array<{ hash_part: string; name: string }> = await tx.manager.query(
    `SELECT hash_part, name FROM nix_store_path WHERE owner_id = $1 AND hash_part = ANY($2::char(32)[]) FOR SHARE`,
    [ownerId, others.map((r) => r.hashPart)],
  );
  const present = new Map(rows.map((r) => [r.hash_part, r.name]));
  const missing = others.filter((r) => present.get(r.hashPart) !== r.name).map((r) => r.baseName);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? ` and ${missing.length - 5} more` : '');
    throw new BadRequestError(`References not in this cache: ${shown}. Push the references first (nix copy does).`);
  }
}

/**
 * Serialises the writers of one store path (narinfo uploads, deletions) until COMMIT. Taken
 * before any row of the path is touched and after the FOR SHARE locks on its references;
 * deletions follow the same order (a path, then its referrers), so an upload and a deletion
 * never wait for each other in a circle (PostgreSQL would abort one with "deadlock detected").
 */
async function lockStorePath(tx: RegistryTransaction, ownerId: number, hashPart: string): Promise<void> {
  await tx.manager.query(`SELECT pg_advisory_xact_lock(hashtext('nix_store_path'), hashtext($1))`, [`${ownerId}:${hashPart}`]);
}

/**
 * Deletes a store path from an owner's cache: its version (and files), its Nix rows, and
 * its NAR and listing unless another path of the owner still names them. A path other
 * paths reference is only deleted with them (`recursive`), so no narinfo is ever left
 * with references that are gone.
 */
export async function deleteStorePaths(nix: NixServices, owner: Owner, hashPart: string, recursive: boolean): Promise<StorePathRecord[]> {
  const deleted = await nix.ctx.registry.write(async (tx) => {
    const paths = new StorePaths(tx.manager);
    // Each path is locked before its referrers are read: an upload that would start
    // referencing it (its reference check takes FOR SHARE) waits, or is already visible.
    // Uploads of the path itself are held off first (and then it is read afresh).
    const lock = async (path: Pick<StorePathRecord, 'hashPart'>): Promise<StorePathRecord | null> => {
      await lockStorePath(tx, owner.id, path.hashPart);
      const current = await paths.byHash(owner.id, path.hashPart);
      if (current) await tx.manager.query(`SELECT id FROM nix_store_path WHERE id = $1 FOR UPDATE`, [current.id]);
      return current;
    };
    const root = await lock({ hashPart });
    if (!root) throw new NotFoundError(`${hashPart}.narinfo does not exist in this cache`);
    const doomed = new Map<string, StorePathRecord>([[root.hashPart, root]]);
    const queue = [root];
    while (queue.length > 0) {
      const next = queue.shift()!;
      for (const found of await paths.referrers(owner.id, next.hashPart, 10_000)) {
        if (doomed.has(found.hashPart)) continue;
        const referrer = await lock(found);
        if (!referrer) continue;
        if (!recursive) {
          const names = (await paths.referrers(owner.id, hashPart, 6)).map((p) => `${p.hashPart}-${p.name}`);
          throw new ConflictError(
            `${root.hashPart}-${root.name} is referenced by ${names.slice(0, 5).join(', ')}${names.length > 5 ? ' and more' : ''}; ` +
              'delete those first, or delete with ?recursive=true to remove them too',
          );
        }
        doomed.set(referrer.hashPart, referrer);
        queue.push(referrer);
      }
    }
    for (const path of doomed.values()) await tx.deleteVersion(path.versionId);
    const narsGone: string[] = [];
    for (const url of new Set([...doomed.values()].map((p) => p.url))) {
      if ((await paths.countByUrl(owner.id, url)) > 0) continue;
      const fileName = url.slice('nar/'.length);
      await tx.deleteOwnerFile({ ownerId: owner.id, type: NIX, key: narKey(fileName) });
      await tx.deleteOwnerFile({ ownerId: owner.id, type: NIX, key: listingKey(fileName) });
      narsGone.push(fileName);
    }
    return { paths: [...doomed.values()], narsGone };
  });
  for (const p of deleted.paths) nix.changes.path(owner.id, p.hashPart);
  for (const fileName of deleted.narsGone) nix.changes.nar(owner.id, fileName);
  return deleted.paths;
}
