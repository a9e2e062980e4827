import { BadRequestError } from '@forge/core';

/**
 * Owner names follow Gitea's rules: letters, digits, `-`, `_`, `.`; no leading or trailing
 * punctuation, no consecutive punctuation; at most 40 characters; compared
 * case-insensitively. Names that would collide with routes are reserved.
 */
const NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9]))*$/;

const RESERVED = new Set([
  '-', '.', '..', 'admin', 'api', 'assets', 'healthz', 'login', 'logout', 'settings', 'user', 'users', 'org', 'orgs',
  'explore', 'packages', 'static', 'new', 'sign-in', 'sign-out', 'signup', 'v1', 'v2', 'nix', 'metrics',
]);

export function validateOwnerName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new BadRequestError('name is required');
  if (name.length > 40) throw new BadRequestError('name must be at most 40 characters');
  if (!NAME_PATTERN.test(name)) {
    throw new BadRequestError(
      'name may contain only letters, digits, "-", "_" and ".", and must start and end with a letter or digit',
    );
  }
  if (RESERVED.has(name.toLowerCase())) throw new BadRequestError(`name "${name}" is reserved`);
  return name;
}

export function validateEmail(email: string): string {
  if (typeof email !== 'string' || !/^[^\s@]+@[^\s@]+$/.test(email) || email.length > 255) {
    throw new BadRequestError('a valid email address is required');
  }
  return email;
}
