import type { Owner, Visibility } from '@forge/core';
import type { PublicKey } from '../format/index.js';
import type { CacheSettings, CacheSettingsChanges, CacheSettingsStore } from '../store/caches.js';
import type { TrustedKeys } from '../store/trusted-keys.js';
import { cacheVisibility } from './access.js';
import { parseTrustedKey, type CacheKey, type CacheKeys } from './signing-keys.js';

/** A cache as its settings show it. */
export interface CacheOverview {
  /** null while the cache is not enabled. */
  settings: CacheSettings | null;
  visibility: Visibility;
  /** The server's keys (none while the cache is not enabled), active first. */
  keys: CacheKey[];
  /** Uploader keys whose signatures must verify. */
  trustedKeys: PublicKey[];
}

/**
 * Administering a cache: enabling it, its settings, its signing keys (rotation, bring your
 * own key, dropping a retired one) and the uploader keys it trusts. The settings API and
 * the settings panel both call these; each change tells every server process (the stores
 * and the key service send the change notices).
 */
export class CacheAdministration {
  constructor(
    private readonly deps: {
      settings: CacheSettingsStore;
      keys: CacheKeys;
      trustedKeys: TrustedKeys;
    },
  ) {}

  async overview(owner: Owner): Promise<CacheOverview> {
    const settings = await this.deps.settings.get(owner.id);
    const [keys, trustedKeys] = await Promise.all([settings ? this.deps.keys.all(owner.id) : [], this.deps.trustedKeys.list(owner.id)]);
    return { settings, visibility: cacheVisibility(owner, settings), keys, trustedKeys };
  }

  /** Enables the cache if it is not yet: its settings, `created` if this call made them. */
  enable(owner: Owner): Promise<{ settings: CacheSettings; created: boolean }> {
    return this.deps.settings.enable(owner.id);
  }

  /** Enables the cache with its signing key (created now if it has none). */
  async enableWithKey(owner: Owner): Promise<CacheKey> {
    await this.deps.settings.enable(owner.id);
    return this.deps.keys.active(owner);
  }

  /** Changes settings (400 for values out of range); the cache is enabled and has a key afterwards. */
  async update(owner: Owner, changes: CacheSettingsChanges): Promise<CacheSettings> {
    const settings = await this.deps.settings.update(owner.id, changes);
    await this.deps.keys.active(owner);
    return settings;
  }

  /** The key that signs from now on, and the retired ones still served, for clients to trust; a key is made if there is none. */
  async keysForClients(owner: Owner): Promise<CacheKey[]> {
    const keys = await this.deps.keys.all(owner.id);
    if (keys.length > 0) return keys;
    await this.deps.keys.active(owner);
    return this.deps.keys.all(owner.id);
  }

  /** The active key (created if the cache has none). */
  activeKey(owner: Owner): Promise<CacheKey> {
    return this.deps.keys.active(owner);
  }

  /** A new server-generated key signs from now on; the old one stays until dropped. */
  rotateKey(owner: Owner): Promise<CacheKey> {
    return this.deps.keys.rotate(owner);
  }

  /** Bring your own key: a Nix secret key file (`name:base64`) becomes the active key. */
  importKey(owner: Owner, secretKeyText: string): Promise<CacheKey> {
    return this.deps.keys.import(owner, secretKeyText);
  }

  /** Drops a retired key (its signatures stop being served): 404 for a key the cache does not have. */
  async dropKey(owner: Owner, keyId: number): Promise<void> {
    await this.deps.keys.drop(owner, keyId);
  }

  /** The cache's key with this id, or undefined. */
  async key(owner: Owner, keyId: number): Promise<CacheKey | undefined> {
    return (await this.deps.keys.all(owner.id)).find((k) => k.id === keyId);
  }

  /** Trusts an uploader key (`name:base64`): its signatures must verify from now on. */
  async trustKey(owner: Owner, publicKeyText: string): Promise<PublicKey> {
    const key = parseTrustedKey(publicKeyText);
    await this.deps.trustedKeys.add(owner.id, key);
    return key;
  }

  /** Stops trusting an uploader key: 404 when no trusted key has that name. */
  async untrustKey(owner: Owner, name: string): Promise<void> {
    await this.deps.trustedKeys.remove(owner.id, name);
  }
}
