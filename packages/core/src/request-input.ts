import { BadRequestError } from './errors.js';

/**
 * Text from requests that reaches the database. PostgreSQL's `text` cannot hold U+0000 (a
 * NUL makes the query fail, which would be a 500), and no name or label in this registry
 * has a use for control characters or for lone UTF-16 surrogates (which JSON can carry
 * and which the drivers would silently turn into U+FFFD). These checks let every layer
 * refuse such input as a 400 before a query sees it.
 */

// C0 controls (NUL included), DEL and C1 controls.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
// With the `u` flag a well-formed pair is one code point, so this matches only lone halves.
const LONE_SURROGATE = /\p{Cs}/u;

/** Why `value` is no acceptable single-line text, or null when it is. */
export function textProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'contains a NUL byte';
  if (CONTROL.test(value)) return 'contains a control character';
  if (LONE_SURROGATE.test(value)) return 'is not valid Unicode (a lone surrogate)';
  return null;
}

/** Whether `value` may hold multi-line text: only NUL and lone surrogates are refused. */
export function multilineTextProblem(value: string): string | null {
  if (value.includes('\u0000')) return 'contains a NUL byte';
  if (LONE_SURROGATE.test(value)) return 'is not valid Unicode (a lone surrogate)';
  return null;
}

/**
 * A required single-line text field: a string, at most `maxLength` characters, without
 * control characters or lone surrogates. Returns it unchanged; throws BadRequestError.
 */
export function validateText(value: unknown, what: string, maxLength: number): string {
  if (typeof value !== 'string' || value.length === 0) throw new BadRequestError(`${what} is required`);
  if (value.length > maxLength) throw new BadRequestError(`${what} must be at most ${maxLength} characters`);
  const problem = textProblem(value);
  if (problem) throw new BadRequestError(`${what} ${problem}`);
  return value;
}

/**
 * A request address (path and query, still percent-encoded) that holds an encoded NUL,
 * which no name, path or search can contain: refused as a whole before any route decodes
 * it. (Node's HTTP parser already refuses raw control bytes in the request line.)
 */
export function assertNoEncodedNul(url: string): void {
  if (url.includes('%00')) throw new BadRequestError('invalid request address: it contains a NUL byte (%00), which no name or path may hold');
}

/** The largest id of a `serial` column (PostgreSQL's int4). */
const MAX_ROW_ID = 2_147_483_647;

/**
 * Whether `value` can be the id of a row. Ids come from URLs and forms as digits; a
 * number beyond int4 would make the query fail (a 500), so callers treat it as absent.
 */
export function isRowId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 && value <= MAX_ROW_ID;
}
