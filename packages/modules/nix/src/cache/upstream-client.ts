import { Memo, type Logger } from '@forge/core';
import { NixFormatError, parseNarInfo, type NarInfo } from '../format/index.js';
import { Semaphore } from './semaphore.js';

/** Limits of the requests the server makes to upstream caches (docs/security.md). */
export interface UpstreamLimits {
  /** Longest wait for one narinfo, queueing for a slot included (`FORGE_UPSTREAM_TIMEOUT`). Default 5 s. */
  timeoutMs: number;
  /** Narinfo requests to upstreams in flight at once, per process; the rest queue (within their timeout). Default 32. */
  concurrency: number;
  /** Largest upstream narinfo read; a larger answer is an error. Default 256 KiB. */
  maxNarInfoBytes: number;
  /** After an error, an upstream is not asked again for this long (its paths are misses meanwhile). Default 30 s. */
  backoffMs: number;
}

export const DEFAULT_UPSTREAM_LIMITS: UpstreamLimits = {
  timeoutMs: 5_000,
  concurrency: 32,
  maxNarInfoBytes: 256 * 1024,
  backoffMs: 30_000,
};

/** Most upstream answers remembered per process (shared by every cache with the same upstream). */
const MEMO_ENTRIES = 100_000;
const MEMO_BYTES = 64 * 1024 * 1024;
/** How long a path an upstream has is remembered (upstream paths never change; this bounds staleness after a GC there). */
const POSITIVE_TTL_MS = 60 * 60_000;
/** How long a path an upstream lacks is remembered (it may be built and pushed there any time). */
const NEGATIVE_TTL_MS = 5 * 60_000;

/** What an upstream said about a path: its narinfo (not yet checked against any key), that it lacks it, or nothing usable. */
export type UpstreamAnswer =
  | { kind: 'hit'; info: NarInfo }
  | { kind: 'miss' }
  | { kind: 'error'; reason: string };

/** Where an upstream failed, for a metric (the ops metrics facade plugs in here). */
export type UpstreamErrorHook = (upstreamUrl: string, reason: string) => void;

/** A NAR URL as binary caches write it: relative, `nar/<name>`, nothing that could leave the upstream's `nar/`. */
const UPSTREAM_NAR_URL = /^nar\/[0-9a-z]{32,64}\.nar(?:\.[a-z0-9]{1,8})?$/;

/**
 * Asks upstream binary caches for narinfos: each request bounded in time (one deadline
 * covers waiting for a slot and the whole response), in size, and in number (a semaphore
 * per process); answers remembered (positive and negative, bounded; shared by every cache
 * naming the same upstream); identical requests in flight joined. An upstream that fails
 * is left alone for `backoffMs`, so a dead upstream costs one timeout, not one per path.
 * Never throws: every failure is an `error` answer, logged as a warning.
 */
export class UpstreamClient {
  readonly #memo = new Memo<string, NarInfo | null>({
    maxEntries: MEMO_ENTRIES,
    maxBytes: MEMO_BYTES,
    ttlMs: POSITIVE_TTL_MS,
    sizeOf: (info, key) => key.length + 96 + (info ? 512 + info.references.length * 80 + info.sigs.length * 128 : 0),
  });
  readonly #inFlight = new Map<string, Promise<UpstreamAnswer>>();
  /** Upstream URL → time (ms) until which it is not asked. */
  readonly #resting = new Map<string, number>();
  readonly #slots: Semaphore;

  constructor(
    private readonly limits: UpstreamLimits,
    private readonly logger: Logger,
    private readonly onError: UpstreamErrorHook = () => {},
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.#slots = new Semaphore(limits.concurrency);
  }

  /** The narinfo of `hashPart` at the upstream `baseUrl` (no trailing slash). */
  narinfo(baseUrl: string, hashPart: string): Promise<UpstreamAnswer> {
    const key = `${baseUrl}\n${hashPart}`;
    const known = this.#memo.get(key);
    if (known !== undefined) return Promise.resolve(known ? { kind: 'hit', info: known } : { kind: 'miss' });
    const resting = this.#resting.get(baseUrl);
    if (resting !== undefined) {
      if (resting > Date.now()) return Promise.resolve({ kind: 'error', reason: 'unreachable a moment ago; not asked again yet' });
      this.#resting.delete(baseUrl);
    }
    let pending = this.#inFlight.get(key);
    if (!pending) {
      const epoch = this.#memo.epoch();
      pending = this.ask(baseUrl, hashPart)
        .then((answer) => {
          if (answer.kind === 'hit') this.#memo.set(key, answer.info, epoch);
          else if (answer.kind === 'miss') this.#memo.set(key, null, epoch, NEGATIVE_TTL_MS);
          else this.failed(baseUrl, answer.reason);
          return answer;
        })
        .finally(() => this.#inFlight.delete(key));
      this.#inFlight.set(key, pending);
    }
    return pending;
  }

  /** Forgets every remembered answer (tests; a lost change notice has nothing to do with upstreams). */
  clear(): void {
    this.#memo.clear();
    this.#resting.clear();
  }

  private failed(baseUrl: string, reason: string): void {
    if (!this.#resting.has(baseUrl)) {
      this.logger.warn('upstream cache unavailable: its paths are misses for now', { upstream: baseUrl, reason, retryInMs: this.limits.backoffMs });
    }
    this.#resting.set(baseUrl, Date.now() + this.limits.backoffMs);
    try {
      this.onError(baseUrl, reason);
    } catch {
      // A metric must never break a lookup.
    }
  }

  private async ask(baseUrl: string, hashPart: string): Promise<UpstreamAnswer> {
    const deadline = AbortSignal.timeout(this.limits.timeoutMs);
    const release = await this.slot(deadline);
    if (!release) return { kind: 'error', reason: `no request slot within ${this.limits.timeoutMs} ms` };
    try {
      // No redirects: an allowed upstream must not bounce the server to another address.
      const res = await this.fetchImpl(`${baseUrl}/${hashPart}.narinfo`, {
        redirect: 'error',
        signal: deadline,
        headers: { accept: 'text/x-nix-narinfo', 'user-agent': 'forge-nix-cache' },
      });
      if (res.status === 404 || res.status === 403 || res.status === 410) {
        await res.body?.cancel().catch(() => {});
        return { kind: 'miss' };
      }
      if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        return { kind: 'error', reason: `HTTP ${res.status}` };
      }
      const body = await readCapped(res, this.limits.maxNarInfoBytes);
      if (!body) return { kind: 'error', reason: `narinfo larger than ${this.limits.maxNarInfoBytes} bytes` };
      const info = parseNarInfo(body);
      if (info.storePath.hashPart !== hashPart) return { kind: 'error', reason: `${hashPart}.narinfo names another path (${info.storePath.baseName})` };
      // A NAR URL the server could not redirect to safely is as good as a missing path.
      if (!UPSTREAM_NAR_URL.test(info.url)) return { kind: 'miss' };
      return { kind: 'hit', info };
    } catch (err) {
      if (err instanceof NixFormatError) return { kind: 'error', reason: `invalid narinfo: ${err.message}` };
      if (deadline.aborted) return { kind: 'error', reason: `no answer within ${this.limits.timeoutMs} ms` };
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      return { kind: 'error', reason: cause?.code ?? cause?.message ?? (err as Error).message };
    } finally {
      release();
    }
  }

  /** A request slot, or null when none came free before the deadline. */
  private async slot(deadline: AbortSignal): Promise<(() => void) | null> {
    const acquiring = this.#slots.acquire();
    let onAbort: () => void = () => {};
    const aborted = new Promise<null>((resolve) => {
      onAbort = () => resolve(null);
      deadline.addEventListener('abort', onAbort, { once: true });
    });
    const got = await Promise.race([acquiring, aborted]);
    deadline.removeEventListener('abort', onAbort);
    // A slot that comes free after the deadline is handed straight back.
    if (!got) void acquiring.then((release) => release());
    return got;
  }
}

/** The body, or null when it exceeds `max` bytes (the rest is not read). */
async function readCapped(res: Response, max: number): Promise<Buffer | null> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > max) {
    await res.body?.cancel().catch(() => {});
    return null;
  }
  if (!res.body) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    total += chunk.length;
    // Leaving the loop cancels the stream: the rest is never read.
    if (total > max) return null;
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks);
}
