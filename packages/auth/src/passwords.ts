import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import { ServiceUnavailableError } from '@forge/core';

export { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordWeakness, validatePassword } from './password-policy.js';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) =>
    scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))),
  );

// scrypt parameters (N=2^15, r=8, p=1: ~32 MiB, tens of ms); stored with the hash so they can grow.
const N = 1 << 15;
const R = 8;
const P = 1;
const KEYLEN = 32;
const MAXMEM = 64 * 1024 * 1024;

/** `scrypt$N$r$p$salt$hash`, base64 parts. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, KEYLEN, { N, r: R, p: P, maxmem: MAXMEM });
  return ['scrypt', N, R, P, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  if (!stored) return false;
  const [algo, n, r, p, salt, hash] = stored.split('$');
  if (algo !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: MAXMEM,
  });
  return timingSafeEqual(key, expected);
}

export interface PasswordHashingLimits {
  /** Hashes computed at once (`FORGE_PASSWORD_HASH_CONCURRENCY`, default 1). */
  concurrency: number;
  /** Hashes that may wait for a turn (`FORGE_PASSWORD_HASH_QUEUE`, default 32); more are refused with 503. */
  queue: number;
}

export const DEFAULT_PASSWORD_HASHING: PasswordHashingLimits = { concurrency: 1, queue: 32 };

/**
 * Password hashing with bounded concurrency. scrypt runs on libuv's thread pool (four
 * threads by default), which also does every file read and write of the blob store: with
 * one hash at a time, three threads stay free for NAR downloads and uploads however many
 * wrong passwords arrive, and a queue bound keeps waiting requests from piling up.
 * (docs/security.md, "Authentication and sign-in".)
 */
export class PasswordHasher {
  readonly #limit: LimitFunction;
  readonly #queue: number;
  #peak = 0;

  constructor(limits: PasswordHashingLimits = DEFAULT_PASSWORD_HASHING) {
    if (!(limits.concurrency >= 1)) throw new Error('password hashing needs a concurrency of at least 1');
    this.#limit = pLimit(limits.concurrency);
    this.#queue = limits.queue;
  }

  hash(password: string): Promise<string> {
    return this.run(() => hashPassword(password));
  }

  verify(password: string, stored: string | null): Promise<boolean> {
    return this.run(() => verifyPassword(password, stored));
  }

  /** The most hashes that ever ran at once (what the limit bounds; tests read it). */
  get peakConcurrency(): number {
    return this.#peak;
  }

  private run<T>(work: () => Promise<T>): Promise<T> {
    if (this.#limit.pendingCount >= this.#queue) {
      return Promise.reject(new ServiceUnavailableError('too many password checks at once; try again in a moment', 1));
    }
    return this.#limit(async () => {
      this.#peak = Math.max(this.#peak, this.#limit.activeCount);
      return work();
    });
  }
}
