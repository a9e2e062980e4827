import { describe, expect, it } from 'vitest';
import { compilePattern, compileRule, parseRule, ruleToApi, versionsToRemove, type CleanupRule } from '../../src/cleanup/rules.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 1);
const rule = (r: Partial<CleanupRule>): CleanupRule => ({ enabled: true, keepCount: 0, keepPattern: '', removeOlderThanMs: 0, removePattern: '', matchFullName: false, ...r });
/** Versions 1.0 … 1.N, one a day, the newest yesterday. */
const versions = (n: number, packageName = 'tool') =>
  Array.from({ length: n }, (_, i) => ({ packageName, version: `1.${i}`, createdAt: new Date(NOW - (n - i) * DAY) }));
const removed = (r: Partial<CleanupRule>, list = versions(6)) => versionsToRemove(compileRule(rule(r)), list, NOW).map((v) => v.version);

describe('generic cleanup rules (Gitea semantics)', () => {
  it('keeps the N most recent versions of each package, whatever order they come in', () => {
    expect(removed({ keepCount: 2 }, versions(6).reverse())).toEqual(['1.3', '1.2', '1.1', '1.0']);
    expect(removed({ keepCount: 10 })).toEqual([]);
  });

  it('removes only versions older than the duration', () => {
    // 1.5 is 1 day old, 1.0 six days old.
    expect(removed({ removeOlderThanMs: 3 * DAY + 1 })).toEqual(['1.2', '1.1', '1.0']);
    expect(removed({ removeOlderThanMs: 30 * DAY })).toEqual([]);
  });

  it('keeps what matches the keep pattern and removes only what matches the remove pattern, whole-name and case-insensitively', () => {
    const list = [...versions(3), { packageName: 'tool', version: 'v2.0-RC1', createdAt: new Date(NOW - 10 * DAY) }, { packageName: 'tool', version: 'release-2', createdAt: new Date(NOW - 11 * DAY) }];
    expect(removed({ removePattern: '.*-rc\\d+' }, list)).toEqual(['v2.0-RC1']);
    expect(removed({ keepPattern: 'release-.*|1\\.0' }, list)).toEqual(['1.2', '1.1', 'v2.0-RC1']);
    // Anchored: "1" alone does not match "1.1".
    expect(removed({ removePattern: '1' }, list)).toEqual([]);
  });

  it('matches package/version with matchFullName', () => {
    const list = [...versions(2, 'tool'), ...versions(2, 'other')];
    expect(removed({ removePattern: 'other/.*', matchFullName: true }, list).length).toBe(2);
    expect(removed({ removePattern: 'other/.*' }, list)).toEqual([]);
  });

  it('combines the criteria as Gitea does: keep count first, then keep pattern, age, remove pattern', () => {
    expect(removed({ keepCount: 1, keepPattern: '1\\.0', removeOlderThanMs: 2 * DAY, removePattern: '1\\.[0-3]' })).toEqual(['1.3', '1.2', '1.1']);
  });

  it('reads and writes the API form, refusing what is wrong with a 400', () => {
    const r = parseRule({ keep_count: 3, remove_older_than: '30d', remove_pattern: '.*-dev', match_full_name: true });
    expect(r).toEqual(rule({ keepCount: 3, removeOlderThanMs: 30 * DAY, removePattern: '.*-dev', matchFullName: true }));
    expect(ruleToApi(r)).toEqual({ type: 'generic', enabled: true, keep_count: 3, keep_pattern: '', remove_older_than: '30d', remove_pattern: '.*-dev', match_full_name: true });
    for (const bad of [[], 'x', { keep_count: -1 }, { keep_count: 1.5 }, { remove_older_than: '30' }, { enabled: 'yes' }, { surprise: 1 }, { type: 'nix' }, { remove_pattern: '(' }]) {
      expect(() => parseRule(bad), JSON.stringify(bad)).toThrow(expect.objectContaining({ status: 400 }));
    }
  });

  it('is safe against hostile patterns: no catastrophic backtracking, bounded length and size', () => {
    // (a+)+$ against "aaaa…b" takes exponential time with a backtracking engine; RE2 is linear.
    const evil = compilePattern('(a+)+', 'remove_pattern')!;
    const subject = 'a'.repeat(50_000) + 'b';
    const started = process.hrtime.bigint();
    expect(evil.matches(subject)).toBe(false);
    // Not a timing assertion on speed: a backtracking engine would not return within the test's timeout at all.
    expect(Number(process.hrtime.bigint() - started) / 1e9).toBeLessThan(60);
    // Backreferences and lookaround (which need backtracking) are not RE2 syntax: refused.
    expect(() => compilePattern('(a)\\1', 'remove_pattern')).toThrow(/not a valid regular expression/);
    expect(() => compilePattern('a(?=b)', 'remove_pattern')).toThrow(/not a valid regular expression/);
    expect(() => compilePattern('a'.repeat(257), 'remove_pattern')).toThrow(/longer than 256/);
    expect(() => compilePattern('((a{100}){100}){100}', 'remove_pattern')).toThrow(/too complex|valid/);
  });
});
