import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Authenticated encryption (AES-256-GCM) under a key derived from the server secret with
 * HKDF, one derived key per purpose, so the same secret can also sign sessions without
 * the two uses ever sharing key material.
 */
export class SecretBox {
  readonly #key: Buffer;

  constructor(serverSecret: Uint8Array, purpose: string) {
    if (serverSecret.length < 32) throw new Error('the server secret must be at least 32 bytes');
    this.#key = Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), `forge:${purpose}`, 32));
  }

  /** `v1.<iv>.<tag>.<ciphertext>`, base64url parts. */
  seal(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), body.toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('sealed value has an unknown format');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** A purpose-specific key derived from the server secret (e.g. for signing session cookies). */
export function deriveSecret(serverSecret: Uint8Array, purpose: string): Buffer {
  return Buffer.from(hkdfSync('sha256', serverSecret, Buffer.alloc(0), `forge:${purpose}`, 32));
}
