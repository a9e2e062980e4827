import {
  parseContentAddress,
  parseNix32Sha256,
  parseStorePathBaseName,
  serializeNarInfo,
  signPath,
  type CompressionName,
  type NarInfo,
} from '../format/index.js';
import { isForeignKeyViolation } from '@forge/core';
import type { NixServices } from '../services.js';
import type { StorePathRecord } from '../store/store-paths.js';

/** The narinfo fields of a stored path, as format values. */
export function narInfoOf(path: StorePathRecord): NarInfo {
  return {
    storePath: parseStorePathBaseName(`${path.hashPart}-${path.name}`),
    url: path.url,
    compression: path.compression as CompressionName,
    fileHash: parseNix32Sha256(path.fileHash),
    fileSize: path.fileSize,
    narHash: parseNix32Sha256(path.narHash),
    narSize: path.narSize,
    references: path.references.map((r) => parseStorePathBaseName(r)),
    deriver: path.deriver ? parseStorePathBaseName(path.deriver) : undefined,
    system: path.system ?? undefined,
    sigs: path.sigs,
    ca: path.ca ? parseContentAddress(path.ca) : undefined,
  };
}

/**
 * The narinfo as served: the uploader's signatures plus one by every server key that is
 * still kept (the active key and retired ones not yet dropped). A path the active key has
 * not signed yet (uploaded before a rotation) is signed now, once, and the signature kept.
 */
export async function renderNarInfo(nix: NixServices, path: StorePathRecord, stored?: Array<{ keyId: number; sig: string }>): Promise<Buffer> {
  const info = narInfoOf(path);
  const keys = await nix.keys.all(path.ownerId);
  // The caller may have fetched the stored signatures with the path (one query, not two).
  let rows = stored;
  if (!rows) {
    const raw: Array<{ key_id: number; sig: string }> = await nix.ctx.db.query(`SELECT key_id, sig FROM nix_path_signature WHERE path_id = $1`, [path.id]);
    rows = raw.map((r) => ({ keyId: Number(r.key_id), sig: r.sig }));
  }
  const byKey = new Map<number, string>(rows.map((r) => [r.keyId, r.sig]));
  const sigs = new Set(info.sigs);
  for (const key of keys) {
    let sig = byKey.get(key.id);
    if (!sig && key.active) {
      sig = signPath(info, key.secret);
      // Keeping it is an optimisation: if the path was deleted (or the key dropped) meanwhile,
      // the foreign key refuses the row and this answer is simply the last one served.
      await nix.ctx.db
        .query(`INSERT INTO nix_path_signature (path_id, key_id, sig) VALUES ($1, $2, $3) ON CONFLICT (path_id, key_id) DO NOTHING`, [
          path.id,
          key.id,
          sig,
        ])
        .catch((err: unknown) => {
          if (!isForeignKeyViolation(err)) throw err;
        });
    }
    if (sig) sigs.add(sig);
  }
  return Buffer.from(serializeNarInfo({ ...info, sigs: [...sigs].sort() }), 'utf8');
}
