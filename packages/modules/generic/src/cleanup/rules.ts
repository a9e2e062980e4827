import { RE2JS } from 're2js';
import { BadRequestError, parseDuration, formatDuration } from '@forge/core';

/**
 * Gitea's package cleanup rules (services/packages/cleanup), for generic packages: pure,
 * no SQL, no HTTP. For every package of the owner, versions newest first:
 *   1. the `keepCount` most recent versions stay;
 *   2. a version matching `keepPattern` stays;
 *   3. a version younger than `removeOlderThan` stays;
 *   4. with a `removePattern`, a version not matching it stays;
 *   5. everything else goes.
 * Patterns match the whole version (or `package/version` with `matchFullName`),
 * case-insensitively, as Gitea anchors them (`(?i)\A(?:…)\z`).
 *
 * Patterns are written by owners and run over every version name: they go through RE2
 * (re2js, a pure-JS port with linear-time matching: no backtracking, so no ReDoS whatever
 * the pattern), are at most MAX_PATTERN_LENGTH characters, and compile to at most
 * MAX_PROGRAM_SIZE instructions (so `(a{1000}){1000}` is refused, not expanded).
 */
export interface CleanupRule {
  enabled: boolean;
  /** Keep this many most recent versions of each package (0: none kept for being recent). */
  keepCount: number;
  /** Versions matching this stay ('' = none). */
  keepPattern: string;
  /** Only versions older than this go, in ms (0 = any age). */
  removeOlderThanMs: number;
  /** Only versions matching this go ('' = any). */
  removePattern: string;
  /** Match `package/version` instead of the version alone. */
  matchFullName: boolean;
}

export const MAX_PATTERN_LENGTH = 256;
export const MAX_PROGRAM_SIZE = 2_000;
export const MAX_KEEP_COUNT = 10_000;

export interface VersionCandidate {
  packageName: string;
  version: string;
  createdAt: Date;
}

export interface CompiledRule {
  rule: CleanupRule;
  keep: RE2JS | null;
  remove: RE2JS | null;
}

export function compilePattern(pattern: string, field: string): RE2JS | null {
  if (pattern === '') return null;
  if (pattern.length > MAX_PATTERN_LENGTH) throw new BadRequestError(`${field} is longer than ${MAX_PATTERN_LENGTH} characters`);
  let compiled: RE2JS;
  try {
    compiled = RE2JS.compile(`^(?:${pattern})$`, RE2JS.CASE_INSENSITIVE);
  } catch (err) {
    throw new BadRequestError(`${field} is not a valid regular expression (RE2 syntax): ${(err as Error).message}`);
  }
  if (compiled.programSize() > MAX_PROGRAM_SIZE) throw new BadRequestError(`${field} is too complex (it compiles to more than ${MAX_PROGRAM_SIZE} instructions)`);
  return compiled;
}

export function compileRule(rule: CleanupRule): CompiledRule {
  return { rule, keep: compilePattern(rule.keepPattern, 'keep_pattern'), remove: compilePattern(rule.removePattern, 'remove_pattern') };
}

/**
 * The versions of one package that the rule removes. `versions` in any order; they are
 * sorted newest first (creation time, then name as the tie-break Gitea's id order gives).
 */
export function versionsToRemove<T extends VersionCandidate>(compiled: CompiledRule, versions: readonly T[], now: number): T[] {
  const { rule, keep, remove } = compiled;
  const newestFirst = [...versions].sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.version < b.version ? 1 : -1));
  const cutoff = now - rule.removeOlderThanMs;
  const out: T[] = [];
  for (const v of newestFirst.slice(rule.keepCount)) {
    const subject = (rule.matchFullName ? `${v.packageName}/${v.version}` : v.version).toLowerCase();
    if (keep?.matches(subject)) continue;
    if (v.createdAt.getTime() > cutoff) continue;
    if (remove && !remove.matches(subject)) continue;
    out.push(v);
  }
  return out;
}

/** A rule from its JSON (snake_case, as Gitea's API spells it); 400 for anything wrong. */
export function parseRule(body: unknown): CleanupRule {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('a cleanup rule is a JSON object');
  const b = body as Record<string, unknown>;
  const known = new Set(['enabled', 'keep_count', 'keep_pattern', 'remove_older_than', 'remove_pattern', 'match_full_name', 'type']);
  for (const key of Object.keys(b)) if (!known.has(key)) throw new BadRequestError(`unknown field "${key.slice(0, 40)}" (known: ${[...known].join(', ')})`);
  if (b.type !== undefined && b.type !== 'generic') throw new BadRequestError('type must be "generic": cleanup rules apply to generic packages');
  const bool = (key: string, fallback: boolean) => {
    const v = b[key];
    if (v === undefined) return fallback;
    if (typeof v !== 'boolean') throw new BadRequestError(`${key} must be true or false`);
    return v;
  };
  const text = (key: string) => {
    const v = b[key] ?? '';
    if (typeof v !== 'string') throw new BadRequestError(`${key} must be a string`);
    return v;
  };
  const keepCount = b.keep_count ?? 0;
  if (typeof keepCount !== 'number' || !Number.isInteger(keepCount) || keepCount < 0 || keepCount > MAX_KEEP_COUNT) {
    throw new BadRequestError(`keep_count must be a whole number from 0 to ${MAX_KEEP_COUNT}`);
  }
  const rule: CleanupRule = {
    enabled: bool('enabled', true),
    keepCount,
    keepPattern: text('keep_pattern'),
    removeOlderThanMs: parseAge(text('remove_older_than')),
    removePattern: text('remove_pattern'),
    matchFullName: bool('match_full_name', false),
  };
  compileRule(rule); // refuses bad patterns now, not when the rule first runs
  return rule;
}

/** `30d`, `12h`; `''` or `0` for any age. */
export function parseAge(text: string): number {
  if (text.trim() === '' || text.trim() === '0') return 0;
  if (text.length > 32) throw new BadRequestError('remove_older_than is too long');
  try {
    return parseDuration(text, 'remove_older_than');
  } catch (err) {
    throw new BadRequestError((err as Error).message);
  }
}

export function ruleToApi(rule: CleanupRule) {
  return {
    type: 'generic',
    enabled: rule.enabled,
    keep_count: rule.keepCount,
    keep_pattern: rule.keepPattern,
    remove_older_than: rule.removeOlderThanMs === 0 ? '0' : formatDuration(rule.removeOlderThanMs),
    remove_pattern: rule.removePattern,
    match_full_name: rule.matchFullName,
  };
}
