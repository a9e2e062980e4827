import { checkPathSignatures, fingerprintPath, parseNarInfo, parseSignature, verifySignature } from '../format/index.js';
import type { StorePathRecord } from '../store/store-paths.js';
import type { TrustedKeys } from '../store/trusted-keys.js';
import { narInfoOf } from './narinfo-render.js';
import type { CacheKeys } from './signing-keys.js';

/** One signature a cache serves for a path, with the key that made it. */
export interface SignatureRow {
  keyName: string;
  signature: string;
  kind: 'server' | 'uploader';
  /** Server keys: active or retired. Uploader keys: trusted by this cache or not. */
  status: 'active' | 'retired' | 'trusted' | 'untrusted';
  /** Whether it verifies against the key this cache knows by that name (null: no such key). */
  valid: boolean | null;
}

/** Every signature in a narinfo as served (`narinfo`), checked against the keys the cache knows. */
export async function describeSignatures(keys: CacheKeys, trustedKeys: TrustedKeys, path: StorePathRecord, narinfo: Buffer): Promise<SignatureRow[]> {
  const [serverKeys, trusted] = await Promise.all([keys.all(path.ownerId), trustedKeys.list(path.ownerId)]);
  const info = narInfoOf(path);
  const fingerprint = fingerprintPath(info);
  return parseNarInfo(narinfo).sigs.map((signature) => {
    const { keyName } = parseSignature(signature);
    const server = serverKeys.find((k) => k.name === keyName);
    if (server) {
      let valid = false;
      try {
        valid = verifySignature(fingerprint, signature, server.publicKey);
      } catch {
        valid = false;
      }
      return { keyName, signature, kind: 'server', status: server.active ? 'active' : 'retired', valid };
    }
    const check = checkPathSignatures({ ...info, sigs: [signature] }, trusted);
    const known = check.untrusted.length === 0;
    return { keyName, signature, kind: 'uploader', status: known ? 'trusted' : 'untrusted', valid: known ? check.valid.length === 1 : null };
  });
}
