/**
 * Human-readable figures, query strings and shell quoting for pages, shared by the host's shell and the
 * modules' views (which reach the host only through this package). Nothing here makes HTML.
 */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** `1536` → `1.5 KiB` (binary units, as `du -h` and Nix print them). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${UNITS[unit]}`;
}

const STEPS: Array<[limit: number, unit: Intl.RelativeTimeFormatUnit, seconds: number]> = [
  [60, 'second', 1],
  [3600, 'minute', 60],
  [86_400, 'hour', 3600],
  [86_400 * 30, 'day', 86_400],
  [86_400 * 365, 'month', 86_400 * 30],
  [Infinity, 'year', 86_400 * 365],
];

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

/** `3 days ago`, `in 2 months`. */
export function timeAgo(date: Date, now = Date.now()): string {
  const diff = Math.round((date.getTime() - now) / 1000);
  const abs = Math.abs(diff);
  if (abs < 10) return 'just now';
  for (const [limit, unit, seconds] of STEPS) {
    if (abs < limit) return relative.format(Math.round(diff / seconds), unit);
  }
  return date.toISOString();
}

/** `2024-11-24 13:05 UTC`: exact, for tooltips and tables. */
export function formatDateTime(date: Date): string {
  return date.toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** `?a=1&b=2` from the non-empty entries. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== '') as Array<[string, string | number]>;
  if (entries.length === 0) return '';
  return '?' + new URLSearchParams(entries.map(([k, v]) => [k, String(v)])).toString();
}

/** Single quotes for a POSIX shell, so a pasted command never runs part of a name. */
export function shellQuote(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What every snippet has in place of a token (the dashboard, the cache page, the docs). */
export const TOKEN_PLACEHOLDER = 'YOUR_TOKEN';
/** What a snippet has in place of the login when nobody is signed in. */
export const LOGIN_PLACEHOLDER = 'YOUR_USER_NAME';

/**
 * The one netrc line of every snippet (curl, Nix): the host of `baseUrl` (netrc matches host
 * names, never ports), the login (the server takes any login, but curl and Nix both send it,
 * and logs then name the user) and the token as password.
 */
export function netrcLine(baseUrl: string, login: string | null | undefined): string {
  return `machine ${new URL(baseUrl).hostname} login ${login || LOGIN_PLACEHOLDER} password ${TOKEN_PLACEHOLDER}`;
}
