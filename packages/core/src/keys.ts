/**
 * Server-managed key pairs per owner and purpose (Gitea keeps its Debian/RPM signing keys
 * the same way). Key material is opaque text to the host: a module generates it in its own
 * format (e.g. Nix `name:base64`). Secrets are encrypted at rest and never leave the server.
 */
export interface NewKeyPair {
  /** Key name as clients see it, e.g. `forge.example-alice-1`. */
  name: string;
  publicKey: string;
  secretKey: string;
}

export interface StoredKey {
  id: number;
  ownerId: number;
  purpose: string;
  name: string;
  publicKey: string;
  /** Decrypted secret; only ever used inside the server. */
  secretKey: string;
  /** The key that signs from now on; exactly one per owner and purpose. */
  active: boolean;
  createdAt: Date;
  /** When a rotation demoted it; its old signatures stay valid until it is dropped. */
  retiredAt: Date | null;
}

export interface KeyService {
  /** The active key, created by `generate` under a lock when the owner has none. */
  getOrCreateActive(ownerId: number, purpose: string, generate: () => Promise<NewKeyPair> | NewKeyPair): Promise<StoredKey>;
  getActive(ownerId: number, purpose: string): Promise<StoredKey | null>;
  /** Every key, active first, then newest first. */
  list(ownerId: number, purpose: string): Promise<StoredKey[]>;
  /** Makes `key` the active key; the previous active key is retired, not deleted. */
  activate(ownerId: number, purpose: string, key: NewKeyPair): Promise<StoredKey>;
  /** Deletes a retired key (its signatures stop being served). The active key cannot be dropped. */
  drop(ownerId: number, purpose: string, keyId: number): Promise<void>;
}
