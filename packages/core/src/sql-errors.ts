/**
 * Recognising database failures without depending on the database package: modules reach
 * the host only through `@forge/core`, and their stores still need to tell a duplicate
 * (409) or a row that went away meanwhile from a real failure. Both drivers (pg and
 * PGlite) report the SQLSTATE, in `code` or in TypeORM's `driverError.code`.
 */
/** SQLSTATE of a failed query, whichever driver (pg or PGlite) raised it. */
function sqlState(err: unknown): string | undefined {
  const e = err as { code?: unknown; driverError?: { code?: unknown } } | null;
  const code = e?.driverError?.code ?? e?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A unique constraint was violated (23505). */
export function isUniqueViolation(err: unknown): boolean {
  return sqlState(err) === '23505';
}

/** A foreign key constraint was violated (23503). */
export function isForeignKeyViolation(err: unknown): boolean {
  return sqlState(err) === '23503';
}

/**
 * The rows of a raw query. TypeORM answers UPDATE and DELETE with `[rows, affectedCount]`
 * and everything else with `rows`; this gives rows either way, so `… RETURNING` works the
 * same for every statement.
 */
export async function queryRows<T = Record<string, unknown>>(
  db: { query(sql: string, params?: unknown[]): Promise<unknown> },
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const result = await db.query(sql, params);
  if (Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number') {
    return result[0] as T[];
  }
  return result as T[];
}
