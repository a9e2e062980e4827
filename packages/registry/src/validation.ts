import { BadRequestError } from '@forge/core';

/**
 * Names the registry accepts for packages, versions and files, whatever the type: modules
 * apply their own stricter rules first. Control characters and path tricks are refused
 * here so no name can ever escape into storage paths or break the UI.
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export function checkName(kind: 'package name' | 'version' | 'file name', value: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestError(`${kind} is required`);
  if (value.length > 255) throw new BadRequestError(`${kind} must be at most 255 characters`);
  if (CONTROL.test(value)) throw new BadRequestError(`${kind} must not contain control characters`);
  if (value === '.' || value === '..') throw new BadRequestError(`${kind} must not be "." or ".."`);
  return value;
}
