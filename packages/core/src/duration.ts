/**
 * Durations in settings (`FORGE_BLOB_GRACE=1h`, `FORGE_SERVE_DIRECT_EXPIRY=5m`): a whole
 * number followed by a unit, as systemd and Go spell them: `ms`, `s`, `m`, `h`, `d`.
 * Several may be joined (`1h30m`). A bare number is refused: "60" could mean anything;
 * only `0` is read alone, being zero in every unit (`FORGE_CLEANUP_INTERVAL=0` = off,
 * `retention: "0"` = keep forever).
 */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function parseDuration(text: string, name = 'duration'): number {
  const trimmed = text.trim();
  if (trimmed === '0') return 0;
  const pattern = /(\d+)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = pattern.exec(trimmed); match; match = pattern.exec(trimmed)) {
    total += Number(match[1]) * UNITS[match[2]!]!;
    consumed = pattern.lastIndex;
  }
  if (trimmed === '' || consumed !== trimmed.length || !Number.isSafeInteger(total)) {
    throw new Error(`${name} must be a duration such as 90s, 15m, 1h or 30d (units ms, s, m, h, d), got "${text}"`);
  }
  return total;
}

/** The shortest spelling parseDuration reads back to the same value (`5400000` → `1h30m`). */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s';
  let rest = ms;
  let out = '';
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000], ['ms', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) {
      out += `${n}${unit}`;
      rest -= n * size;
    }
  }
  return out;
}
