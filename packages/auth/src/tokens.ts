import { createHash, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { BadRequestError, ConflictError, Memo, NotFoundError, SCOPES, isRowId, textProblem, validateText, type Scope, type User } from '@forge/core';
import { AccessTokenEntity, isUniqueViolation, OwnerEntity, type AccessTokenRow } from '@forge/db';
import { toOwner } from './owners.js';

export interface TokenInfo {
  id: number;
  name: string;
  scopes: Scope[];
  tokenLastEight: string;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
}

export interface TokenIdentity {
  user: User;
  tokenId: number;
  /** The token's name (the label its user gave it). */
  tokenName: string;
  scopes: ReadonlySet<Scope>;
}

/**
 * How long a verified token is trusted from memory. Revocations reach every process at once
 * through change notices (onChange); this bounds the damage if a notice is ever lost.
 */
const MEMO_TTL_MS = 60_000;
const MEMO_MAX_ENTRIES = 10_000;
/** Token names are labels of at most this many characters (the column's width). */
const MAX_TOKEN_NAME_LENGTH = 255;
/** last_used_at is written at most this often per token: it must not cost a write per request. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function parseScopes(input: string | string[]): Scope[] {
  const list = (Array.isArray(input) ? input : String(input ?? '').split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new BadRequestError(`at least one scope is required (${SCOPES.join(', ')})`);
  for (const s of list) {
    if (!(SCOPES as readonly string[]).includes(s)) throw new BadRequestError(`unknown scope "${s}"; known scopes: ${SCOPES.join(', ')}`);
  }
  return [...new Set(list)] as Scope[];
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Tokens look like Gitea's: 40 hex characters (160 random bits). */
const TOKEN_PATTERN = /^[0-9a-f]{40}$/;

function info(row: AccessTokenRow): TokenInfo {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes.split(',') as Scope[],
    tokenLastEight: row.tokenLastEight,
    createdAt: row.createdAt,
    expiresAt: row.expiresAt,
    lastUsedAt: row.lastUsedAt,
  };
}

/**
 * Personal access tokens: random, stored as sha256 (they carry 160 bits of entropy, so
 * a fast hash is safe and lets us look them up by hash), shown once, scoped, optionally
 * expiring, revocable.
 */
export class TokenService {
  /** Verified tokens by hash (unknown ones too, as null); an expiring token is forgotten no later than it expires. */
  readonly #verified = new Memo<string, TokenIdentity | null>({ name: 'tokens', maxEntries: MEMO_MAX_ENTRIES, ttlMs: MEMO_TTL_MS });
  /** Tokens whose last use was written within the last LAST_USED_RESOLUTION_MS. */
  readonly #lastUsedWritten = new Memo<number, true>({ maxEntries: MEMO_MAX_ENTRIES, ttlMs: LAST_USED_RESOLUTION_MS });
  readonly #listeners: Array<() => void> = [];

  constructor(
    private readonly ds: DataSource,
    private readonly now: () => number = Date.now,
  ) {}

  async create(user: User, input: { name: string; scopes: Scope[]; expiresAt?: Date | null }): Promise<{ token: string; info: TokenInfo }> {
    const name = validateText(String(input.name ?? '').trim(), 'token name', MAX_TOKEN_NAME_LENGTH);
    if (input.expiresAt && input.expiresAt.getTime() <= this.now()) throw new BadRequestError('expiry must be in the future');
    const token = randomBytes(20).toString('hex');
    try {
      const row = await this.ds.getRepository(AccessTokenEntity).save({
        userId: user.id,
        name,
        tokenHash: hashToken(token),
        tokenLastEight: token.slice(-8),
        scopes: parseScopes(input.scopes).join(','),
        expiresAt: input.expiresAt ?? null,
        lastUsedAt: null,
      });
      return { token, info: info(row) };
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`a token named "${name}" already exists`);
      throw err;
    }
  }

  async list(user: User): Promise<TokenInfo[]> {
    const rows = await this.ds.getRepository(AccessTokenEntity).find({ where: { userId: user.id }, order: { id: 'ASC' } });
    return rows.map(info);
  }

  /** Revokes by id or by name (as Gitea's API allows both). */
  async revoke(user: User, idOrName: number | string): Promise<void> {
    const repo = this.ds.getRepository(AccessTokenEntity);
    const byId = typeof idOrName === 'number' || /^\d+$/.test(idOrName);
    // An id beyond the column's range or a name no token can have (control characters,
    // too long) is not looked up.
    if (byId ? !isRowId(Number(idOrName)) : idOrName.length > MAX_TOKEN_NAME_LENGTH || textProblem(String(idOrName)) !== null) {
      throw new NotFoundError('token does not exist');
    }
    const where = byId ? { userId: user.id, id: Number(idOrName) } : { userId: user.id, name: String(idOrName) };
    const row = await repo.findOneBy(where);
    if (!row) throw new NotFoundError('token does not exist');
    await repo.delete({ id: row.id });
    this.#verified.forget(row.tokenHash);
    for (const l of this.#listeners) l();
  }

  /** Called after a revocation (the host tells the other processes to forget their memos). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** The identity behind a token, or null when it is unknown, revoked or expired. */
  async verify(token: string): Promise<TokenIdentity | null> {
    if (!TOKEN_PATTERN.test(token)) return null;
    const hash = hashToken(token);
    const now = this.now();
    let identity = this.#verified.get(hash);
    if (identity === undefined) {
      const epoch = this.#verified.epoch();
      const found = await this.lookup(hash, now);
      identity = found && { user: found.user, tokenId: found.tokenId, tokenName: found.tokenName, scopes: found.scopes };
      // An expiring token leaves the memo no later than it expires.
      this.#verified.set(hash, identity, epoch, found?.expiresAt === undefined ? undefined : Math.min(MEMO_TTL_MS, found.expiresAt - now));
    }
    if (identity) this.touch(identity.tokenId, now);
    return identity;
  }

  private async lookup(hash: string, now: number): Promise<(TokenIdentity & { expiresAt?: number }) | null> {
    const row = await this.ds.getRepository(AccessTokenEntity).findOneBy({ tokenHash: hash });
    if (!row) return null;
    if (row.expiresAt && row.expiresAt.getTime() <= now) return null;
    const owner = await this.ds.getRepository(OwnerEntity).findOneBy({ id: row.userId });
    if (!owner || owner.type !== 'user') return null;
    return {
      user: toOwner(owner) as User,
      tokenId: row.id,
      tokenName: row.name,
      scopes: new Set(row.scopes.split(',') as Scope[]),
      expiresAt: row.expiresAt?.getTime(),
    };
  }

  private touch(tokenId: number, now: number): void {
    if (this.#lastUsedWritten.get(tokenId)) return;
    this.#lastUsedWritten.set(tokenId, true, this.#lastUsedWritten.epoch());
    // Fire and forget: a lost update only makes "last used" a minute older.
    this.ds
      .getRepository(AccessTokenEntity)
      .update({ id: tokenId }, { lastUsedAt: new Date(now) })
      .catch(() => {});
  }

  /**
   * Forgets every remembered verification (a change notice: a token was revoked elsewhere).
   * (The name predates the memo; tests call it.)
   */
  clearCache(): void {
    this.#verified.clear();
  }
}
