import { BadRequestError, textProblem } from '@forge/core';

/**
 * Owner names follow Gitea's rules: letters, digits, `-`, `_`, `.`; no leading or trailing
 * punctuation, no consecutive punctuation; at most 40 characters; compared
 * case-insensitively. Names that would collide with routes are reserved.
 */
const NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9]|[-_.](?=[A-Za-z0-9]))*$/;

const MAX_NAME_LENGTH = 40;
const MAX_EMAIL_LENGTH = 255;
const EMAIL_PATTERN = /^[^\s@]+@[^\s@]+$/;

const RESERVED = new Set([
  '-', '.', '..', 'admin', 'api', 'assets', 'healthz', 'login', 'logout', 'settings', 'user', 'users', 'org', 'orgs',
  'explore', 'packages', 'static', 'new', 'sign-in', 'sign-out', 'signup', 'v1', 'v2', 'nix', 'metrics',
]);

/** Whether `name` could name an owner: lookups of anything else need no query. */
export function isOwnerName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name);
}

/** Whether `email` could be a stored email address: lookups of anything else need no query. */
export function isEmail(email: unknown): email is string {
  return typeof email === 'string' && email.length <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(email) && textProblem(email) === null;
}

export function validateOwnerName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new BadRequestError('name is required');
  if (name.length > MAX_NAME_LENGTH) throw new BadRequestError(`name must be at most ${MAX_NAME_LENGTH} characters`);
  if (!NAME_PATTERN.test(name)) {
    throw new BadRequestError(
      'name may contain only letters, digits, "-", "_" and ".", and must start and end with a letter or digit',
    );
  }
  if (RESERVED.has(name.toLowerCase())) throw new BadRequestError(`name "${name}" is reserved`);
  return name;
}

export function validateEmail(email: string): string {
  if (!isEmail(email)) throw new BadRequestError('a valid email address is required');
  return email;
}
