import ipaddr from 'ipaddr.js';
import { Memo } from '@forge/core';
import type { ThrottleStore } from './throttle-store.js';

export interface SignInLimits {
  /** Failed sign-ins per account in a window (`FORGE_SIGNIN_ACCOUNT_LIMIT`, default 10). */
  perAccount: number;
  /** Failed sign-ins per client address in a window (`FORGE_SIGNIN_ADDRESS_LIMIT`, default 50). */
  perAddress: number;
  /** The window, in seconds (`FORGE_SIGNIN_WINDOW_SECONDS`, default 900: 15 minutes). */
  windowSeconds: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perAccount: 10, perAddress: 50, windowSeconds: 900 };

/** Keys whose window is known to be exhausted, remembered in this process (at most this many). */
const BLOCKED_MEMO_MAX = 10_000;
/** Ended windows are deleted at most this often per process. */
const PRUNE_EVERY_MS = 5 * 60_000;

/**
 * Counts password attempts per account and per client address in fixed windows, in the
 * database (`ThrottleStore`), so every process behind a load balancer enforces one limit.
 *
 * An attempt is counted *before* its password is checked and taken back when it succeeds:
 * concurrent guesses cannot slip past the limit between check and count, and once a key is
 * over its limit no password is hashed for it at all (the hash is what an attacker wants
 * the server to spend). An exhausted key is remembered in-process until its window ends,
 * so a flood of refused attempts costs no query either.
 */
export class SignInThrottle {
  /** Exhausted keys and when their window ends (ms since the epoch); each is forgotten when it ends. */
  readonly #blocked = new Memo<string, number>({ maxEntries: BLOCKED_MEMO_MAX, ttlMs: DEFAULT_SIGN_IN_LIMITS.windowSeconds * 1000 });
  #lastPrune = 0;

  constructor(
    private readonly store: ThrottleStore,
    readonly limits: SignInLimits = DEFAULT_SIGN_IN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts an attempt on each key. Returns null when it may go ahead, or the seconds
   * until the longest exhausted window ends.
   */
  async attempt(keys: readonly SignInKey[]): Promise<{ retryAfter: number } | null> {
    const now = this.now();
    const remembered = this.remembered(keys.flatMap((k) => [k.key, ...(k.alias ? [k.alias] : [])]));
    if (remembered) return remembered;
    let retryAfter = 0;
    for (const { key, limit, alias } of keys) {
      const { failures, retryAfter: windowLeft } = await this.store.count(key, this.limits.windowSeconds);
      if (failures > limit) {
        retryAfter = Math.max(retryAfter, windowLeft);
        this.remember(key, now + windowLeft * 1000);
        if (alias) this.remember(alias, now + windowLeft * 1000);
      }
    }
    this.pruneNow(now);
    return retryAfter > 0 ? { retryAfter: Math.ceil(retryAfter) } : null;
  }

  /**
   * Whether this process already knows one of `keys` (or aliases) to be exhausted: answers
   * without a query, so a flood of refused attempts costs nothing but the refusal.
   */
  remembered(keys: readonly string[]): { retryAfter: number } | null {
    const now = this.now();
    const left = Math.max(0, ...keys.map((k) => (this.#blocked.get(k) ?? 0) - now));
    return left > 0 ? { retryAfter: Math.ceil(left / 1000) } : null;
  }

  /** The attempt succeeded: the account starts afresh, the address gets its attempt back. */
  async succeeded(account: SignInKey | null, address: SignInKey): Promise<void> {
    if (account) await this.store.reset(account.key);
    await this.store.uncount(address.key);
  }

  /** An account's key; `alias` (the login as typed) is remembered with it once exhausted. */
  accountKey(accountId: string, alias?: string): SignInKey {
    return { key: `account:${accountId}`, limit: this.limits.perAccount, alias };
  }

  addressKey(address: string): SignInKey {
    return { key: `address:${addressGroup(address)}`, limit: this.limits.perAddress };
  }

  private remember(key: string, until: number): void {
    this.#blocked.set(key, until, this.#blocked.epoch(), until - this.now());
  }

  private pruneNow(now: number): void {
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    // Best effort: a failed prune only leaves dead rows for the next one.
    this.store.prune(this.limits.windowSeconds).catch(() => {});
  }
}

export interface SignInKey {
  key: string;
  limit: number;
  /** Another name for the key in this process's memo of exhausted keys (never counted). */
  alias?: string;
}

/**
 * The group of addresses one limit applies to: an IPv4 address, or an IPv6 /64 (one
 * customer's prefix: counting single IPv6 addresses would give an attacker 2^64 of them).
 */
export function addressGroup(address: string): string {
  try {
    let parsed = ipaddr.parse(address);
    if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
    if (parsed.kind() === 'ipv4') return parsed.toString();
    const parts = (parsed as ipaddr.IPv6).parts.slice(0, 4).map((p) => p.toString(16));
    return `${parts.join(':')}::/64`;
  } catch {
    return address.slice(0, 100);
  }
}
