import type { Request, Response } from 'express';
import {
  BadRequestError,
  ConflictError,
  NotFoundError,
  PayloadTooLargeError,
  requestBody,
  type ModuleContext,
  type Owner,
  type StagedBlob,
} from '@forge/core';
import { multipartUpload, stagedFromMultipart } from './multipart.js';
import { parseCoordinates } from './names.js';

export const GENERIC = 'generic';

/**
 * Gitea's generic registry API, with its status codes:
 *   PUT    /{name}/{version}/{file}  201, 409 when the file exists, 400 on bad names
 *   GET    /{name}/{version}/{file}  200 (ranges: 206), 404
 *   DELETE /{name}/{version}/{file}  204; the version goes with its last file
 *   DELETE /{name}/{version}         204
 */
export function registerRoutes(ctx: ModuleContext): void {
  const { router, access, registry } = ctx;
  const maxSize = ctx.host.maxUploadBytes;
  

  async function findFile(owner: Owner, req: Request) {
    const c = parseCoordinates(req.params as Record<string, string>);
    const pkg = await registry.getPackage(owner.id, GENERIC, c.name);
    const version = pkg && (await registry.getVersion(pkg.id, c.version));
    const file = version && c.filename !== undefined ? await registry.getFile(version.id, c.filename) : null;
    return { c, pkg, version, file };
  }

  router.put('/:name/:version/:filename', async (req: Request, res: Response) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxSize) throw new PayloadTooLargeError(maxSize);
    const owner = await access.require(req, 'write');
    const { c, file } = await findFile(owner, req);
    // Refuse a duplicate before reading a possibly large body.
    if (file) throw new ConflictError(`file "${c.filename}" already exists in ${c.name} ${c.version}`);

    let staged: StagedBlob | undefined;
    if (req.is('multipart/form-data')) {
      const multipart = multipartUpload(registry, maxSize, owner.id);
      await new Promise<void>((resolve, reject) => multipart(req, res, (err?: unknown) => (err ? reject(translateMulter(err, maxSize)) : resolve())));
      staged = stagedFromMultipart(req);
      if (!staged) throw new BadRequestError('multipart upload needs a "file" field');
    } else {
      // destroyOnReturn: false keeps the socket alive when the size limit stops reading, so the 413 can be sent.
      staged = await registry.stageBlob(requestBody(req, { idleTimeoutMs: ctx.host.bodyIdleTimeoutMs }), { maxSize, extraDigests: true, ownerId: owner.id });
    }
    await registry.createPackageAndAddFile({
      ownerId: owner.id,
      type: GENERIC,
      name: c.name,
      version: c.version,
      creatorId: access.actor(req).user?.id ?? null,
      file: { name: c.filename!, isLead: false, blob: staged },
    });
    res.status(201).end();
  });

  router.get('/:name/:version/:filename', async (req: Request, res: Response) => {
    const owner = await access.require(req, 'read');
    const { file } = await findFile(owner, req);
    if (!file) throw new NotFoundError('file not found');
    await ctx.serveBlob(req, res, {
      sha256: file.sha256,
      size: file.size,
      contentType: 'application/octet-stream',
      downloadName: file.name,
    });
  });

  router.delete('/:name/:version/:filename', async (req: Request, res: Response) => {
    const owner = await access.require(req, 'write');
    const { version, file } = await findFile(owner, req);
    if (!version || !file) throw new NotFoundError('file not found');
    await registry.write(async (tx) => {
      await tx.deleteFile(file.id);
      const left = await tx.manager.query(`SELECT 1 FROM package_file WHERE version_id = $1 LIMIT 1`, [version.id]);
      if (left.length === 0) await tx.deleteVersion(version.id);
    });
    res.status(204).end();
  });

  router.delete('/:name/:version', async (req: Request, res: Response) => {
    const owner = await access.require(req, 'write');
    const { version } = await findFile(owner, req);
    if (!version) throw new NotFoundError('version not found');
    await registry.write((tx) => tx.deleteVersion(version.id));
    res.status(204).end();
  });
}

function translateMulter(err: unknown, maxSize: number): unknown {
  const code = (err as { code?: string }).code;
  if (code === 'LIMIT_FILE_SIZE') return new PayloadTooLargeError(maxSize);
  if (typeof code === 'string' && code.startsWith('LIMIT_')) return new BadRequestError(`multipart upload refused: ${(err as Error).message}`);
  if ((err as Error).message?.startsWith('Multipart:') || (err as Error).message?.includes('Unexpected end of form')) {
    return new BadRequestError(`malformed multipart body: ${(err as Error).message}`);
  }
  return err;
}
