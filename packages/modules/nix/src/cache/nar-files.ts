import { BadRequestError, PayloadTooLargeError, secondsSince, type OwnerFileRecord, type Owner, type RegistryService, type StagedBlob } from '@forge/core';
import { NIX } from '../constants.js';
import {
  ChunkChannel,
  createNarVerifier,
  formatHash,
  parseNarFileName,
  type NarFileName,
  type NarVerification,
  type NarVerifier,
} from '../format/index.js';
import type { CacheAccess } from './access.js';
import type { NixChanges } from './change-notices.js';
import type { NixMetrics } from './metrics.js';
import type { NarFileMemo } from './nar-file-memo.js';
import { ownerFileKeys, type NarFileFacts } from './owner-files.js';
import { refusal, refuseBadInput } from './refusals.js';
import { FairSlots } from './semaphore.js';

/** What a NAR upload may cost. */
export interface NarUploadLimits {
  /** Largest file as sent (the host's upload limit): 413 beyond it. */
  maxFileSize: number;
  /** Largest NAR it may inflate to (the decompression-bomb guard). */
  maxNarSize: number;
  /**
   * How many uploads are verified at once; the others wait. An xz decoder holds its
   * dictionary (8 MiB at Nix's default level, up to XZ_MAX_MEMORY) while it runs.
   */
  concurrentVerifications: number;
  /** How many of those one owner may hold at once (the rest of an owner's uploads wait, others' go ahead). */
  verificationsPerOwner: number;
}

/** A NAR upload whose name and declared size were checked, before anyone reads its body. */
export interface ExpectedNar {
  fileName: string;
  name: NarFileName;
}

const REFUSED = 'NAR upload refused';

/**
 * NAR files: accepting an upload and finding one for download. An upload is only kept
 * once fully verified: its body streams into the blob store's staging area and, chunk by
 * chunk, through the verifier (sha256 against the file name, decompression, strict NAR
 * parse, NarHash, NarSize, listing); anything else is refused and leaves nothing behind.
 * The owner file `nar/<file>` (with the facts) is what makes the NAR visible in this
 * owner's cache, so blob sharing between owners stays invisible.
 */
export class NarFiles {
  readonly #verifications: FairSlots;

  constructor(
    private readonly deps: { registry: RegistryService; access: CacheAccess; changes: NixChanges; memo: NarFileMemo; metrics: NixMetrics },
    private readonly limits: NarUploadLimits,
  ) {
    this.#verifications = new FairSlots(limits.concurrentVerifications, limits.verificationsPerOwner);
  }

  /**
   * Checks what is known before the body (and before access is checked, as every upload
   * route does): the file name (400) and the declared size (413).
   */
  expect(fileName: string, declaredSize?: number): ExpectedNar {
    try {
      const name = parseNarFileName(fileName);
      if (!name) throw new BadRequestError(`"${fileName}" is not a NAR file name (expected <nix32 file hash>.nar[.xz|.zst|.bz2|.br|…])`);
      if (declaredSize !== undefined && declaredSize > this.limits.maxFileSize) throw new PayloadTooLargeError(this.limits.maxFileSize);
      return { fileName, name };
    } catch (err) {
      this.deps.metrics.refused('nar', err);
      throw err;
    }
  }

  /** Verifies and stores an upload: the facts the server computed, or a typed error (400, 413). */
  async accept(owner: Owner, expected: ExpectedNar, body: AsyncIterable<Uint8Array>, options: { signal?: AbortSignal } = {}): Promise<NarFileFacts> {
    try {
      const facts = await this.#accept(owner, expected, body, options);
      this.deps.metrics.accepted('nar');
      return facts;
    } catch (err) {
      this.deps.metrics.refused('nar', err);
      throw err;
    }
  }

  async #accept(owner: Owner, expected: ExpectedNar, body: AsyncIterable<Uint8Array>, options: { signal?: AbortSignal }): Promise<NarFileFacts> {
    const { registry } = this.deps;
    const { fileName, name } = expected;
    const maxSize = this.limits.maxFileSize;
    // The listing is written while the NAR is parsed and staged as it comes (the verifier
    // holds at most 1 MiB of it), so no listing is ever held whole in memory.
    const listingChunks = new ChunkChannel();
    const verifier = await refuseBadInput(REFUSED, () =>
      createNarVerifier({
        compression: name.compressions.length === 1 ? name.compressions[0]! : 'auto',
        expectedFileHash: name.fileHash,
        // No maxFileSize here: the blob store enforces maxSize on the same bytes and answers
        // 413 like the Content-Length check (the verifier's own limit would say 400).
        maxNarSize: this.limits.maxNarSize,
        onListing: (chunk) => listingChunks.push(chunk),
      }),
    );
    const staged: StagedBlob[] = [];
    let verified: NarVerification;
    let listing: StagedBlob;
    const release = await this.#verifications.acquire(String(owner.id));
    // The uploader left while it waited for its turn: nothing to verify, and the slot is free.
    if (options.signal?.aborted) {
      release();
      throw new Error('aborted');
    }
    // Verification time counts from the slot, not from the wait for it.
    const start = process.hrtime.bigint();
    const received = { bytes: 0 };
    const listingStaging = registry.stageBlob(listingChunks);
    listingStaging.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
    try {
      staged.push(await registry.stageBlob(verifiedChunks(body, verifier, received), { maxSize, ownerId: owner.id }));
      verified = await refuseBadInput(REFUSED, () => verifier.end());
      listingChunks.end();
      listing = await listingStaging;
      staged.push(listing);
      if (!name.compressions.includes(verified.compression)) {
        throw new BadRequestError(`${REFUSED}: the file name says ${name.compressions.join(' or ')} but the data is ${verified.compression}-compressed`);
      }
      this.deps.metrics.narVerified('accepted', secondsSince(start), received.bytes);
    } catch (err) {
      this.deps.metrics.narVerified('refused', secondsSince(start), received.bytes);
      verifier.abort();
      listingChunks.fail(err);
      await listingStaging.then((s) => s.discard(), () => {});
      await Promise.all(staged.map((s) => s.discard()));
      throw err;
    } finally {
      release();
    }
    const facts: NarFileFacts = {
      compression: verified.compression,
      fileHash: formatHash(verified.fileHash, 'nix32').slice('sha256:'.length),
      fileSize: verified.fileSize,
      narHash: formatHash(verified.narHash, 'nix32').slice('sha256:'.length),
      narSize: verified.narSize,
      listingSha256: listing.sha256,
    };
    await registry.write(
      async (tx) => {
        await tx.putOwnerFile({ ownerId: owner.id, type: NIX, key: ownerFileKeys.nar(fileName), blob: staged[0]!, properties: { ...facts } });
        await tx.putOwnerFile({ ownerId: owner.id, type: NIX, key: ownerFileKeys.listing(fileName), blob: listing });
      },
      { discardOnFailure: staged },
    );
    this.deps.changes.nar(owner.id, fileName);
    await this.deps.access.enableAfterUpload(owner);
    return facts;
  }

  /** The owner's copy of a NAR file, for download (memoised: a download costs no query). */
  find(ownerId: number, fileName: string): Promise<OwnerFileRecord | null> {
    return this.deps.memo.get(ownerId, fileName, () => this.deps.registry.getOwnerFile(ownerId, NIX, ownerFileKeys.nar(fileName)));
  }
}

/** Feeds every chunk to the verifier (awaiting it: backpressure) before it goes to storage. */
async function* verifiedChunks(source: AsyncIterable<Uint8Array>, verifier: NarVerifier, received: { bytes: number }): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    received.bytes += chunk.length;
    await verifier.write(chunk).catch((err: unknown) => {
      throw refusal(err, REFUSED);
    });
    yield chunk;
  }
}
