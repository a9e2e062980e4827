import { BadRequestError } from '@forge/core';

// Gitea's generic registry rules (routers/api/packages/generic): names of `[-_+.\w]`,
// file names of a wider set including spaces, versions without surrounding whitespace.
const PACKAGE_NAME = /^[-_+.\w]+$/;
const FILE_NAME = /^[-_+=:;.()[\]{}~!@#$%^& \w]+$/;

export interface GenericCoordinates {
  name: string;
  version: string;
  filename?: string;
}

export function parseCoordinates(params: Record<string, string | undefined>): GenericCoordinates {
  const name = params.name ?? '';
  const version = params.version ?? '';
  const filename = params.filename;
  if (!PACKAGE_NAME.test(name) || name === '.' || name === '..') throw new BadRequestError('invalid package name');
  if (version === '' || version !== version.trim() || version.length > 255) throw new BadRequestError('invalid package version');
  if (filename !== undefined && (!FILE_NAME.test(filename) || filename === '.' || filename === '..' || filename.length > 255)) {
    throw new BadRequestError('invalid file name');
  }
  return { name, version, filename };
}
