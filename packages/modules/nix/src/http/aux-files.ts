import type { Request, Response } from 'express';
import { BadRequestError, NotFoundError, PayloadTooLargeError } from '@forge/core';
import { NIX } from '../constants.js';
import {
  isStorePathHash,
  parseListing,
  formatDrvOutputId,
  parseDrvOutputId,
  parseNixCacheInfo,
  parseRealisation,
  parseStorePathBaseName,
  renderNixCacheInfo,
  NIX_STORE_DIR,
} from '../format/index.js';
import type { NixServices } from '../services.js';
import { asBadRequest, once, parseJsonBody, readSmallBody } from './body.js';
import { cacheControl } from './cache-control.js';
import { listingKey } from './nar-files.js';

const SMALL_JSON_LIMIT = 1024 * 1024;
const LISTING_LIMIT = 64 * 1024 * 1024;
const LOG_LIMIT = 256 * 1024 * 1024;

/**
 * Everything in a cache besides NARs and narinfos: `nix-cache-info`, `.ls` listings, build
 * logs (`nix store copy-log`), debuginfo links (`?index-debug-info=1`), and CA-derivation
 * realisations (`realisations/…` up to Nix 2.34, `build-trace-v2/…` from 2.35).
 */
export function auxFileRoutes(nix: NixServices): void {
  const { router, registry } = nix.ctx;

  router.get('/nix-cache-info', async (req: Request, res: Response) => {
    const { owner, settings } = await nix.cache.read(req);
    const body = renderNixCacheInfo({ storeDir: NIX_STORE_DIR, wantMassQuery: settings.wantMassQuery, priority: settings.priority });
    res.status(200).type('text/x-nix-cache-info').setHeader('Cache-Control', cacheControl(owner, settings, 0));
    res.send(body);
  });

  // Nix PUTs nix-cache-info when it finds none; for a writer that enables the cache.
  // A refused file enables nothing.
  router.put('/nix-cache-info', async (req: Request, res: Response) => {
    const owner = await nix.cache.owner(req, 'write');
    const body = await readSmallBody(req, 64 * 1024);
    const info = await asBadRequest('invalid nix-cache-info', () => parseNixCacheInfo(body.toString('utf8')));
    if (info.storeDir !== undefined && info.storeDir !== NIX_STORE_DIR) {
      throw new BadRequestError(`this cache serves the store ${NIX_STORE_DIR}, not ${info.storeDir}`);
    }
    await nix.caches.enable(owner.id);
    res.status(204).end();
  });

  router.get('/:hash.ls', async (req: Request, res: Response) => {
    const hash = String(req.params.hash);
    if (!isStorePathHash(hash)) throw new NotFoundError('not a store path hash');
    const { owner, settings } = await nix.cache.read(req);
    const path = await nix.storePaths.byHash(owner.id, hash);
    const listing = path && (await registry.getOwnerFile(owner.id, NIX, listingKey(path.url.slice('nar/'.length))));
    if (!listing) throw new NotFoundError(`${hash}.ls does not exist in this cache`);
    await nix.ctx.serveBlob(req, res, {
      sha256: listing.sha256,
      size: listing.size,
      contentType: 'application/json',
      headers: { 'Cache-Control': cacheControl(owner, settings, 0) },
    });
  });

  // The server computes every listing from the NAR itself; an uploaded one is checked
  // for shape and otherwise not needed (nix copy sends it before the NAR).
  router.put('/:hash.ls', async (req: Request, res: Response) => {
    if (!isStorePathHash(String(req.params.hash))) throw new BadRequestError('not a store path hash');
    await nix.cache.write(req);
    const body = await readSmallBody(req, LISTING_LIMIT);
    if (!req.headers['content-encoding']) await asBadRequest('invalid .ls listing', () => parseListing(body));
    res.status(204).end();
  });

  router.get('/log/:drv', async (req: Request, res: Response) => {
    const drv = derivationName(String(req.params.drv));
    const { owner, settings } = await nix.cache.read(req);
    const file = await registry.getOwnerFile(owner.id, NIX, `log/${drv}`);
    if (!file) throw new NotFoundError(`no build log for ${drv} in this cache`);
    const encoding = file.properties.contentEncoding as string | undefined;
    await nix.ctx.serveBlob(req, res, {
      sha256: file.sha256,
      size: file.size,
      contentType: 'text/plain; charset=utf-8',
      // Served with the encoding the uploader compressed it with (Nix 2.32+ log-compression).
      headers: { 'Cache-Control': cacheControl(owner, settings, 0), ...(encoding ? { 'Content-Encoding': encoding } : {}) },
    });
  });

  router.put('/log/:drv', async (req: Request, res: Response) => {
    const drv = derivationName(String(req.params.drv));
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > LOG_LIMIT) throw new PayloadTooLargeError(LOG_LIMIT);
    const { owner } = await nix.cache.write(req);
    const staged = await registry.stageBlob(req.iterator({ destroyOnReturn: false }), { maxSize: LOG_LIMIT });
    const encoding = req.headers['content-encoding'];
    const builtBy = await nix.storePaths.byDeriver(owner.id, drv);
    await registry.write(
      async (tx) => {
        const file = await tx.putOwnerFile({
          ownerId: owner.id,
          type: NIX,
          key: `log/${drv}`,
          blob: staged,
          properties: encoding ? { contentEncoding: String(encoding) } : {},
        });
        // The log is a file of every output the derivation built, as far as this cache has them.
        const blob = { id: file.blobId, sha256: file.sha256, size: file.size, createdAt: file.createdAt };
        for (const path of builtBy) await tx.putFile({ versionId: path.versionId, name: `log/${drv}`, blob });
      },
      { discardOnFailure: [staged] },
    );
    await nix.cache.enable(owner);
    res.status(201).end();
  });

  jsonFile('/debuginfo/:id', (p) => {
    const id = p.id!;
    if (!/^[0-9a-f]{2,64}\.debug$/.test(id)) throw new BadRequestError('debuginfo ids are <build id in hex>.debug');
    return `debuginfo/${id}`;
  }, (json) => {
    const o = json as { archive?: unknown; member?: unknown };
    if (typeof o?.archive !== 'string' || typeof o.member !== 'string') throw new BadRequestError('debuginfo must be {"archive": "../nar/…", "member": "…"}');
  });

  jsonFile('/realisations/:id', (p) => {
    const id = p.id!;
    if (!/^sha256:[0-9a-f]{64}![A-Za-z0-9+\-._?=]+\.doi$/.test(id)) throw new BadRequestError('realisation ids are sha256:<hex>!<output>.doi');
    return `realisations/${id}`;
  }, (_json, body, key) => {
    // The document must be the one its name says (as a narinfo's StorePath must match its URL).
    const { id } = parseRealisation(body);
    const named = key.slice('realisations/'.length, -'.doi'.length);
    if (formatDrvOutputId(parseDrvOutputId(id)) !== named) {
      throw new BadRequestError(`realisation id ${id} does not match the URL realisations/${named}.doi`);
    }
  });

  jsonFile('/build-trace-v2/:drv/:out', (p) => {
    derivationName(p.drv!);
    if (!/^[A-Za-z0-9+\-._?=]+\.doi$/.test(p.out!)) throw new BadRequestError('build trace entries are <drv>/<output>.doi');
    return `build-trace-v2/${p.drv}/${p.out}`;
  }, () => {});

  /** GET/HEAD/PUT of a small JSON document kept as an owner file. */
  function jsonFile(route: string, keyOf: (params: Record<string, string | undefined>) => string, validate: (json: unknown, body: Buffer, key: string) => void): void {
    router.get(route, async (req: Request, res: Response) => {
      const key = keyOf(req.params as Record<string, string>);
      const { owner, settings } = await nix.cache.read(req);
      const file = await registry.getOwnerFile(owner.id, NIX, key);
      if (!file) throw new NotFoundError(`${key} does not exist in this cache`);
      await nix.ctx.serveBlob(req, res, {
        sha256: file.sha256,
        size: file.size,
        contentType: 'application/json',
        headers: { 'Cache-Control': cacheControl(owner, settings, 0) },
      });
    });
    router.put(route, async (req: Request, res: Response) => {
      const key = keyOf(req.params as Record<string, string>);
      const { owner } = await nix.cache.write(req);
      const body = await readSmallBody(req, SMALL_JSON_LIMIT);
      await asBadRequest(`invalid ${key}`, () => validate(parseJsonBody(body, key), body, key));
      const staged = await registry.stageBlob(once(body));
      await registry.write((tx) => tx.putOwnerFile({ ownerId: owner.id, type: NIX, key, blob: staged }), { discardOnFailure: [staged] });
      await nix.cache.enable(owner);
      res.status(201).end();
    });
  }
}

function derivationName(text: string): string {
  let path;
  try {
    path = parseStorePathBaseName(text);
  } catch {
    throw new BadRequestError(`"${text}" is not a store derivation name (<hash>-<name>.drv)`);
  }
  if (!path.name.endsWith('.drv')) throw new BadRequestError(`"${text}" is not a derivation (.drv)`);
  return path.baseName;
}
