/** Human-readable figures for pages. */

export { formatBytes, formatDateTime, query, timeAgo } from '@forge/core';

export function formatDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Encodes each segment of a path; names and versions are user input. */
export function href(...segments: Array<string | number>): string {
  return '/' + segments.map((s) => encodeURIComponent(String(s))).join('/');
}

/** A local path to go back to after signing in; anything else (other hosts, `//x`, `/\x`) becomes `/`. */
export function safeRedirect(target: unknown): string {
  if (typeof target !== 'string' || !target.startsWith('/') || target.startsWith('//') || target.startsWith('/\\')) return '/';
  if (/[\u0000-\u001f]/.test(target)) return '/';
  return target;
}
