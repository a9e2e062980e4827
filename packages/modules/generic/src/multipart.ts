import type { Request } from 'express';
import multer from 'multer';
import type { RegistryService, StagedBlob } from '@forge/core';

/**
 * Browser forms upload as multipart (field `file`). multer parses the form; this storage
 * engine streams the file part straight into the registry's staging area, so multipart
 * uploads are hashed and size-limited exactly like raw ones, with no second temp copy.
 */
export function multipartUpload(registry: RegistryService, maxSize: number, ownerId?: number) {
  const storage: multer.StorageEngine = {
    _handleFile(_req, file, callback) {
      registry.stageBlob(file.stream, { maxSize, extraDigests: true, ownerId }).then(
        (staged) => callback(null, { size: staged.size, staged } as Partial<Express.Multer.File>),
        (err: Error) => callback(err),
      );
    },
    _removeFile(_req, file, callback) {
      const staged = (file as unknown as { staged?: StagedBlob }).staged;
      (staged ? staged.discard() : Promise.resolve()).then(() => callback(null), callback);
    },
  };
  return multer({ storage, limits: { files: 1, fields: 10, fileSize: maxSize } }).single('file');
}

export function stagedFromMultipart(req: Request): StagedBlob | undefined {
  return (req.file as unknown as { staged?: StagedBlob } | undefined)?.staged;
}
