import type { Request, Response } from 'express';
import { BadRequestError, NotFoundError, PayloadTooLargeError, type ModuleContext, type StagedBlob } from '@forge/core';
import { ChunkChannel, createNarVerifier, formatHash, parseNarFileName, type NarVerification, type NarVerifier } from '../format/index.js';
import { asBadRequest, formatErrorToHttp } from './body.js';
import { Semaphore } from './semaphore.js';
import type { NixServices } from '../services.js';
import { NIX } from '../constants.js';
import { cacheControl } from './cache-control.js';

/** Facts about an uploaded NAR file, kept with the owner's copy (`package_owner_file.properties`). */
export interface NarFileFacts {
  compression: string;
  /** nix32 */
  fileHash: string;
  fileSize: number;
  /** nix32 */
  narHash: string;
  narSize: number;
  /** sha256 (hex) of the server-computed `.ls` listing blob. */
  listingSha256: string;
}

export const narKey = (fileName: string) => `nar/${fileName}`;
export const listingKey = (fileName: string) => `ls/${fileName}`;

/**
 * `PUT nar/<filehash>.nar[.ext]`: the body streams into the blob store's staging area and,
 * chunk by chunk, through the verifier (sha256 against the URL, decompression, strict NAR
 * parse, NarHash, NarSize, listing). Only a fully verified file becomes the owner's;
 * anything else is a 400 that leaves nothing behind.
 */
export function narFileRoutes(nix: NixServices): void {
  const { ctx, cache } = nix;
  const { router, registry } = ctx;
  const maxSize = ctx.host.maxUploadBytes;
  // An xz decoder holds its dictionary (8 MiB at Nix's default level, up to XZ_MAX_MEMORY)
  // while it runs: bound how many run at once. Others wait.
  const decoders = new Semaphore(4);

  router.put('/nar/:file', async (req: Request, res: Response) => {
    const name = parseNarFileName(String(req.params.file));
    if (!name) throw new BadRequestError(`"${req.params.file}" is not a NAR file name (expected <nix32 file hash>.nar[.xz|.zst|.bz2|.br|…])`);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxSize) throw new PayloadTooLargeError(maxSize);
    const { owner } = await cache.write(req);

    // The listing is written while the NAR is parsed and staged as it comes (the verifier
    // holds at most 1 MiB of it), so no listing is ever held whole in memory.
    const listingChunks = new ChunkChannel();
    const verifier = await asBadRequest('NAR upload refused', () =>
      createNarVerifier({
        compression: name.compressions.length === 1 ? name.compressions[0]! : 'auto',
        expectedFileHash: name.fileHash,
        // No maxFileSize here: the blob store enforces maxSize on the same bytes and answers
        // 413 like the Content-Length check (the verifier's own limit would say 400).
        // A NAR inflates to more than its compressed size; this bounds decompression bombs.
        maxNarSize: maxSize * 64,
        onListing: (chunk) => listingChunks.push(chunk),
      }),
    );
    const staged: StagedBlob[] = [];
    let facts: NarVerification;
    let listing: StagedBlob;
    const release = await decoders.acquire();
    const listingStaging = registry.stageBlob(listingChunks);
    listingStaging.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
    try {
      staged.push(await registry.stageBlob(tee(req.iterator({ destroyOnReturn: false }), verifier), { maxSize }));
      facts = await asBadRequest('NAR upload refused', () => verifier.end());
      listingChunks.end();
      listing = await listingStaging;
      staged.push(listing);
      if (!name.compressions.includes(facts.compression)) {
        throw new BadRequestError(
          `NAR upload refused: the file name says ${name.compressions.join(' or ')} but the data is ${facts.compression}-compressed`,
        );
      }
    } catch (err) {
      verifier.abort();
      listingChunks.fail(err);
      await listingStaging.then((s) => s.discard(), () => {});
      await Promise.all(staged.map((s) => s.discard()));
      throw err;
    } finally {
      release();
    }
    const properties: NarFileFacts = {
      compression: facts.compression,
      fileHash: formatHash(facts.fileHash, 'nix32').slice('sha256:'.length),
      fileSize: facts.fileSize,
      narHash: formatHash(facts.narHash, 'nix32').slice('sha256:'.length),
      narSize: facts.narSize,
      listingSha256: listing.sha256,
    };
    await registry.write(
      async (tx) => {
        await tx.putOwnerFile({ ownerId: owner.id, type: NIX, key: narKey(String(req.params.file)), blob: staged[0]!, properties: { ...properties } });
        await tx.putOwnerFile({ ownerId: owner.id, type: NIX, key: listingKey(String(req.params.file)), blob: listing });
      },
      { discardOnFailure: staged },
    );
    nix.changes.nar(owner.id, String(req.params.file));
    await cache.enable(owner);
    res.status(201).end();
  });

  router.get('/nar/:file', async (req: Request, res: Response) => {
    const { owner, settings } = await cache.read(req);
    const fileName = String(req.params.file);
    const file = await nix.narFiles.get(owner.id, fileName, () => registry.getOwnerFile(owner.id, NIX, narKey(fileName)));
    if (!file) throw new NotFoundError(`nar/${req.params.file} does not exist in this cache`);
    await ctx.serveBlob(req, res, {
      sha256: file.sha256,
      size: file.size,
      // Never a Content-Encoding: Nix decompresses by the narinfo's Compression itself.
      contentType: 'application/x-nix-nar',
      headers: { 'Cache-Control': cacheControl(owner, settings, 31536000) },
    });
  });
}

/** Feeds every chunk to the verifier (awaiting it: backpressure) before it goes to storage. */
async function* tee(source: AsyncIterable<Uint8Array>, verifier: NarVerifier): AsyncIterable<Uint8Array> {
  for await (const chunk of source) {
    await verifier.write(chunk).catch((err: unknown) => {
      throw formatErrorToHttp(err, 'NAR upload refused');
    });
    yield chunk;
  }
}
