import { BadRequestError, Memo, validateText, type KeyService, type NewKeyPair, type Owner, type StoredKey } from '@forge/core';
import {
  formatPublicKey,
  formatSecretKey,
  generateSigningKey,
  parsePublicKey,
  parseSecretKey,
  publicKeyOf,
  type PublicKey,
  type SecretKey,
} from '../format/index.js';

/** The purpose under which the host's key service keeps Nix cache signing keys. */
const NIX_KEY_PURPOSE = 'nix-cache';

/** A server-managed key, parsed once. */
export interface CacheKey {
  id: number;
  name: string;
  active: boolean;
  createdAt: Date;
  retiredAt: Date | null;
  publicKey: PublicKey;
  /** `name:base64`, for `trusted-public-keys`. */
  publicKeyText: string;
  secret: SecretKey;
}

function toCacheKey(stored: StoredKey): CacheKey {
  const secret = parseSecretKey(stored.secretKey);
  return {
    id: stored.id,
    name: stored.name,
    active: stored.active,
    createdAt: stored.createdAt,
    retiredAt: stored.retiredAt,
    publicKey: publicKeyOf(secret),
    publicKeyText: stored.publicKey,
    secret,
  };
}

function pair(secret: SecretKey): NewKeyPair {
  return { name: secret.name, publicKey: formatPublicKey(publicKeyOf(secret)), secretKey: formatSecretKey(secret) };
}

/**
 * Per-owner signing keys named after the host and the owner, `HOST-OWNER-N` (the
 * convention of `cache.nixos.org-1`): N grows with each rotation so clients can trust the
 * old and the new key side by side during a changeover.
 */
export class CacheKeys {
  /**
   * Parsed keys per owner (parsing a key costs a base64 decode; signing needs it on every
   * upload), dropped by change notices on every key change.
   */
  readonly #parsed = new Memo<number, CacheKey[]>({ name: 'nix_signing_keys', maxEntries: 10_000, ttlMs: 300_000, sizeOf: (keys) => 64 + keys.length * 512 });

  constructor(
    private readonly keys: KeyService,
    private readonly hostName: string,
    private readonly changed: (ownerId: number) => void = () => {},
  ) {}

  keyName(owner: Owner, generation: number): string {
    return `${this.hostName}-${owner.lowerName}-${generation}`;
  }

  /** The active key, created on first use (under the key service's lock). */
  async active(owner: Owner): Promise<CacheKey> {
    // The memo of all() (dropped on every key change, in every process) knows it, parsed.
    const known = (await this.all(owner.id)).find((k) => k.active);
    if (known) return known;
    const existing = await this.keys.getActive(owner.id, NIX_KEY_PURPOSE);
    if (existing) return toCacheKey(existing);
    // Worked out before the key service takes its lock: the generator runs inside it.
    const generation = await this.nextGeneration(owner);
    const stored = await this.keys.getOrCreateActive(owner.id, NIX_KEY_PURPOSE, () =>
      pair(generateSigningKey(this.keyName(owner, generation))),
    );
    this.changed(owner.id);
    return toCacheKey(stored);
  }

  /** Every key that still signs or whose signatures are still served: active first. */
  all(ownerId: number): Promise<CacheKey[]> {
    return this.#parsed.load(ownerId, async () => (await this.keys.list(ownerId, NIX_KEY_PURPOSE)).map(toCacheKey));
  }

  /** A new server-generated key signs from now on; the old one stays until dropped. */
  async rotate(owner: Owner): Promise<CacheKey> {
    const secret = generateSigningKey(this.keyName(owner, await this.nextGeneration(owner)));
    const stored = await this.keys.activate(owner.id, NIX_KEY_PURPOSE, pair(secret));
    this.changed(owner.id);
    return toCacheKey(stored);
  }

  /** Bring your own key: a Nix secret key file (`name:base64`, as `nix key generate-secret` writes). */
  async import(owner: Owner, secretKeyText: string): Promise<CacheKey> {
    let secret: SecretKey;
    try {
      secret = parseSecretKey(secretKeyText.trim());
    } catch (err) {
      throw new BadRequestError(`not a Nix secret key: ${(err as Error).message}`);
    }
    const stored = await this.keys.activate(owner.id, NIX_KEY_PURPOSE, pair(secret));
    this.changed(owner.id);
    return toCacheKey(stored);
  }

  async drop(owner: Owner, keyId: number): Promise<void> {
    await this.keys.drop(owner.id, NIX_KEY_PURPOSE, keyId);
    this.changed(owner.id);
  }

  /** Drops this process's parsed keys of an owner (change notices call it). */
  forget(ownerId: number): void {
    this.#parsed.forget(ownerId);
  }

  clear(): void {
    this.#parsed.clear();
  }

  private async nextGeneration(owner: Owner): Promise<number> {
    const prefix = `${this.hostName}-${owner.lowerName}-`;
    let max = 0;
    for (const key of await this.keys.list(owner.id, NIX_KEY_PURPOSE)) {
      if (key.name.startsWith(prefix)) max = Math.max(max, Number(key.name.slice(prefix.length)) || 0);
    }
    return max + 1;
  }
}

/** Parses a trusted uploader key (`name:base64` of 32 bytes) with a 400 on nonsense. */
export function parseTrustedKey(text: string): PublicKey {
  let key: PublicKey;
  try {
    key = parsePublicKey(text.trim());
  } catch (err) {
    throw new BadRequestError(`not a Nix public key: ${(err as Error).message}`);
  }
  // The name is stored and compared in SQL: a NUL (which PostgreSQL cannot hold) or a
  // control character could never be written in nix.conf's trusted-public-keys either.
  validateText(key.name, 'the key name', 255);
  return key;
}
