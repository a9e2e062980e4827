import {
  parseContentAddress,
  parseNix32Sha256,
  parseStorePathBaseName,
  serializeNarInfo,
  signPath,
  type CompressionName,
  type NarInfo,
} from '../format/index.js';
import type { PathSignatures, ServerSignature } from '../store/path-signatures.js';
import type { StorePathRecord } from '../store/store-paths.js';
import type { NixMetrics } from './metrics.js';
import type { CacheKeys } from './signing-keys.js';

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
export class NarInfoRenderer {
  constructor(
    private readonly keys: CacheKeys,
    private readonly signatures: PathSignatures,
    private readonly metrics: NixMetrics,
  ) {}

  /** `stored`: the path's server signatures, when the caller fetched them with the path (one query, not two). */
  async render(path: StorePathRecord, stored?: readonly ServerSignature[]): Promise<Buffer> {
    const info = narInfoOf(path);
    const keys = await this.keys.all(path.ownerId);
    const byKey = new Map<number, string>((stored ?? (await this.signatures.ofPath(path.id))).map((r) => [r.keyId, r.sig]));
    const sigs = new Set(info.sigs);
    for (const key of keys) {
      let sig = byKey.get(key.id);
      if (!sig && key.active) {
        sig = signPath(info, key.secret);
        this.metrics.signed('serve');
        await this.signatures.keep(path.id, { keyId: key.id, sig });
      }
      if (sig) sigs.add(sig);
    }
    return Buffer.from(serializeNarInfo({ ...info, sigs: [...sigs].sort() }), 'utf8');
  }
}
