import { BadRequestError, PayloadTooLargeError, type Owner, type OwnerFileRecord, type RegistryService } from '@forge/core';
import { NIX } from '../constants.js';
import {
  formatDrvOutputId,
  NIX_STORE_DIR,
  parseDrvOutputId,
  ListingReader,
  parseNixCacheInfo,
  parseRealisation,
  parseStorePathBaseName,
} from '../format/index.js';
import type { StorePaths } from '../store/store-paths.js';
import type { CacheAccess } from './access.js';
import { blobOf, narFileNameOf, ownerFileKeys, versionFileNames } from './owner-files.js';
import { refuseBadInput } from './refusals.js';

/** The small JSON documents a cache keeps as they were uploaded. */
export type DocumentKind = 'debuginfo' | 'realisation' | 'build-trace';

/**
 * Everything in a cache besides NARs and narinfos: `nix-cache-info`, `.ls` listings, build
 * logs (`nix store copy-log`), debuginfo links (`?index-debug-info=1`), and CA-derivation
 * realisations (`realisations/…` up to Nix 2.34, `build-trace-v2/…` from 2.35).
 */
export class AuxFiles {
  constructor(private readonly deps: { registry: RegistryService; access: CacheAccess; paths: StorePaths }) {}

  /**
   * A `nix-cache-info` a writer uploads (Nix PUTs one when it finds none): checked, and it
   * enables the cache. A refused file enables nothing.
   */
  async acceptCacheInfo(owner: Owner, body: Buffer): Promise<void> {
    const info = await refuseBadInput('invalid nix-cache-info', () => parseNixCacheInfo(body.toString('utf8')));
    if (info.storeDir !== undefined && info.storeDir !== NIX_STORE_DIR) {
      throw new BadRequestError(`this cache serves the store ${NIX_STORE_DIR}, not ${info.storeDir}`);
    }
    await this.deps.access.enableAfterUpload(owner);
  }

  /** The listing the server computed for a path's NAR, or null. */
  async listing(ownerId: number, hashPart: string): Promise<OwnerFileRecord | null> {
    const path = await this.deps.paths.byHash(ownerId, hashPart);
    return path && this.deps.registry.getOwnerFile(ownerId, NIX, ownerFileKeys.listing(narFileNameOf(path.url)));
  }

  /**
   * An uploaded `.ls`: the server computes every listing from the NAR itself, so one sent
   * along (nix copy sends it before the NAR) is only checked for shape as it streams in (when
   * it is not compressed) and not kept. The check holds one token at a time (`ListingReader`
   * reading the whole tree), never the document, and gives the event loop back between
   * chunks; more than `maxSize` bytes is a 413 as soon as they arrive.
   */
  async checkUploadedListing(body: AsyncIterable<Uint8Array>, options: { maxSize: number; compressed: boolean }): Promise<void> {
    const reader = options.compressed ? null : new ListingReader('', { offset: 0, limit: 0 }, { wholeDocument: true });
    let size = 0;
    await refuseBadInput('invalid .ls listing', async () => {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > options.maxSize) throw new PayloadTooLargeError(options.maxSize, `a .ls listing may have at most ${options.maxSize} bytes`);
        reader?.write(chunk);
      }
      reader?.end();
    });
  }

  /** A derivation's build log, or null. */
  buildLog(ownerId: number, drv: string): Promise<OwnerFileRecord | null> {
    return this.deps.registry.getOwnerFile(ownerId, NIX, ownerFileKeys.log(drv));
  }

  /**
   * Stores a build log, compressed as it was sent (`contentEncoding`, Nix 2.32+
   * log-compression): a file of every output the derivation built, as far as this cache
   * has them.
   */
  async storeBuildLog(owner: Owner, drv: string, body: AsyncIterable<Uint8Array>, options: { maxSize: number; contentEncoding?: string }): Promise<void> {
    const { registry } = this.deps;
    const staged = await registry.stageBlob(body, { maxSize: options.maxSize, ownerId: owner.id });
    const builtBy = await this.deps.paths.byDeriver(owner.id, drv);
    await registry.write(
      async (tx) => {
        const file = await tx.putOwnerFile({
          ownerId: owner.id,
          type: NIX,
          key: ownerFileKeys.log(drv),
          blob: staged,
          properties: options.contentEncoding ? { contentEncoding: options.contentEncoding } : {},
        });
        for (const path of builtBy) await tx.putFile({ versionId: path.versionId, name: versionFileNames.log(drv), blob: blobOf(file) });
      },
      { discardOnFailure: [staged] },
    );
    await this.deps.access.enableAfterUpload(owner);
  }

  /** A stored JSON document by its key (see {@link documentKey}), or null. */
  document(ownerId: number, key: string): Promise<OwnerFileRecord | null> {
    return this.deps.registry.getOwnerFile(ownerId, NIX, key);
  }

  /** Stores a JSON document after checking it is what its name says. */
  async storeDocument(owner: Owner, kind: DocumentKind, key: string, body: Buffer): Promise<void> {
    await refuseBadInput(`invalid ${key}`, () => validateDocument(kind, key, body));
    const { registry } = this.deps;
    const staged = await registry.stageBlob(once(body));
    await registry.write((tx) => tx.putOwnerFile({ ownerId: owner.id, type: NIX, key, blob: staged }), { discardOnFailure: [staged] });
    await this.deps.access.enableAfterUpload(owner);
  }
}

/** The owner-file key of a document from its URL's parameters: 400 for a malformed name. */
export function documentKey(kind: DocumentKind, params: Record<string, string | undefined>): string {
  switch (kind) {
    case 'debuginfo': {
      const id = params.id ?? '';
      if (!/^[0-9a-f]{2,64}\.debug$/.test(id)) throw new BadRequestError('debuginfo ids are <build id in hex>.debug');
      return ownerFileKeys.debuginfo(id);
    }
    case 'realisation': {
      const id = params.id ?? '';
      if (!/^sha256:[0-9a-f]{64}![A-Za-z0-9+\-._?=]+\.doi$/.test(id)) throw new BadRequestError('realisation ids are sha256:<hex>!<output>.doi');
      return ownerFileKeys.realisation(id);
    }
    case 'build-trace': {
      const drv = derivationName(params.drv ?? '');
      const out = params.out ?? '';
      if (!/^[A-Za-z0-9+\-._?=]+\.doi$/.test(out)) throw new BadRequestError('build trace entries are <drv>/<output>.doi');
      return ownerFileKeys.buildTrace(drv, out);
    }
  }
}

function validateDocument(kind: DocumentKind, key: string, body: Buffer): void {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw new BadRequestError(`${key} is not valid JSON`);
  }
  if (kind === 'debuginfo') {
    const o = json as { archive?: unknown; member?: unknown };
    if (typeof o?.archive !== 'string' || typeof o.member !== 'string') throw new BadRequestError('debuginfo must be {"archive": "../nar/…", "member": "…"}');
  } else if (kind === 'realisation') {
    // The document must be the one its name says (as a narinfo's StorePath must match its URL).
    const { id } = parseRealisation(body);
    const named = key.slice(ownerFileKeys.realisation('').length, -'.doi'.length);
    if (formatDrvOutputId(parseDrvOutputId(id)) !== named) {
      throw new BadRequestError(`realisation id ${id} does not match the URL realisations/${named}.doi`);
    }
  }
}

/** One chunk as an async iterable, for staging a small in-memory blob. */
async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}

/** A derivation's base name from a URL (`<hash>-<name>.drv`): 400 otherwise. */
export function derivationName(text: string): string {
  let path;
  try {
    path = parseStorePathBaseName(text);
  } catch {
    throw new BadRequestError(`"${text}" is not a store derivation name (<hash>-<name>.drv)`);
  }
  if (!path.name.endsWith('.drv')) throw new BadRequestError(`"${text}" is not a derivation (.drv)`);
  return path.baseName;
}
