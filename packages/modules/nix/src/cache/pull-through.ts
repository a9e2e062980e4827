import { Readable } from 'node:stream';
import type { Logger, Owner } from '@forge/core';
import type { StorePaths } from '../store/store-paths.js';
import type { UpstreamRecord } from '../store/upstreams.js';
import type { NarFiles } from './nar-files.js';
import type { NarInfoPublisher } from './publish-narinfo.js';
import { Semaphore } from './semaphore.js';
import type { Upstreams } from './upstreams.js';

/** Limits of pull-through (docs/security.md). */
export interface PullThroughLimits {
  /** Paths fetched and stored at once per process. Default 2. */
  concurrency: number;
  /** Paths waiting their turn per process; past it a fetch is only redirected, not stored. Default 256. */
  queue: number;
  /** Longest time one NAR download from an upstream may take. Default 30 min. */
  timeoutMs: number;
}

export const DEFAULT_PULL_THROUGH_LIMITS: PullThroughLimits = { concurrency: 2, queue: 256, timeoutMs: 30 * 60_000 };

/**
 * Pull-through (an upstream's opt-in mode): the first time a client fetches an upstream
 * path's NAR through the cache, the client is redirected to the upstream at once and the
 * server stores the path in the background: the NAR goes through `NarFiles.accept` (hashed,
 * decompressed, parsed, exactly like an upload) and the upstream's narinfo through
 * `NarInfoPublisher.publish` (signatures kept; this cache's key signs it too, since the
 * server verified the NAR itself). From then on the path is the cache's own and survives
 * the upstream going away. Its bytes count against the owner's quota (the owner chose the
 * mode); its provenance is "pulled through from <upstream>", with no user. Failures are
 * warnings: the client already has its redirect.
 */
export class PullThrough {
  readonly #slots: Semaphore;
  readonly #pending = new Set<string>();

  constructor(
    private readonly deps: { upstreams: Upstreams; nars: NarFiles; publisher: NarInfoPublisher; paths: StorePaths; logger: Logger },
    private readonly limits: PullThroughLimits = DEFAULT_PULL_THROUGH_LIMITS,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {
    this.#slots = new Semaphore(limits.concurrency);
  }

  /** Paths being fetched or waiting (tests wait for it to reach zero). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Schedules storing `hashPart` from `upstream` unless it is stored, under way, or the queue is full. */
  schedule(owner: Owner, upstream: UpstreamRecord, hashPart: string): Promise<void> | undefined {
    const key = `${owner.id}/${hashPart}`;
    if (upstream.mode !== 'pull-through' || this.#pending.has(key) || this.#pending.size >= this.limits.queue + this.limits.concurrency) return undefined;
    this.#pending.add(key);
    return this.run(owner, upstream, hashPart)
      .catch((err: Error) => this.deps.logger.warn('pull-through failed: the path stays upstream only', { owner: owner.name, upstream: upstream.url, hashPart, reason: err.message }))
      .finally(() => this.#pending.delete(key));
  }

  private async run(owner: Owner, upstream: UpstreamRecord, hashPart: string): Promise<void> {
    const release = await this.#slots.acquire();
    try {
      if (await this.deps.paths.byHash(owner.id, hashPart)) return;
      const found = await this.deps.upstreams.find(owner.id, hashPart);
      if (typeof found !== 'object' || found.upstream.id !== upstream.id) throw new Error('the upstream no longer serves the path with a trusted signature');
      const { info } = found;
      const fileName = info.url.slice('nar/'.length);
      const expected = this.deps.nars.expect(fileName, info.fileSize);
      const res = await this.fetchImpl(this.deps.upstreams.narLocation(upstream, fileName), {
        redirect: 'error',
        signal: AbortSignal.timeout(this.limits.timeoutMs),
        headers: { 'user-agent': 'forge-nix-cache' },
      });
      if (res.status !== 200 || !res.body) {
        await res.body?.cancel().catch(() => {});
        throw new Error(`NAR download: HTTP ${res.status}`);
      }
      await this.deps.nars.accept(owner, expected, Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>));
      await this.deps.publisher.publish({ owner, hashPart, info, creatorId: null, pulledFrom: upstream.url });
      this.deps.logger.info('pulled through from upstream', { owner: owner.name, upstream: upstream.url, path: info.storePath.baseName });
    } finally {
      release();
    }
  }
}
