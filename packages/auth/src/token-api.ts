import express, { type Request, type Router } from 'express';
import { BadRequestError, ForbiddenError, type User } from '@forge/core';
import { getActor } from './actor.js';
import { toApiUser } from './api-user.js';
import type { OwnerService } from './owners.js';
import { assertScope, requireUserWithScope } from './scopes.js';
import { parseScopes, type TokenInfo, type TokenService } from './tokens.js';

/**
 * Gitea's token API: `/api/v1/users/{username}/tokens`. Creating a token needs the
 * account password (Basic) or a UI session, as in Gitea: a leaked token cannot mint more.
 */
export function tokenApiRouter(deps: { owners: OwnerService; tokens: TokenService; baseUrl: string }): Router {
  const router = express.Router({ mergeParams: true });
  // Only this router's own routes parse JSON: a router-wide parser would also eat the
  // bodies of package uploads that happen to be JSON (Nix's .ls listings).
  const json = express.json({ limit: '64kb' });

  /**
   * The user whose tokens a request manages: yourself with `read:user` / `write:user`, or,
   * for a site admin, anyone, which as in Gitea's admin API also takes the matching
   * `admin` scope.
   */
  async function target(req: Request, access: 'read' | 'write', passwordOnly = false): Promise<User> {
    const actor = getActor(req);
    const self = requireUserWithScope(req, `${access}:user`);
    if (passwordOnly && actor.via === 'token') throw new ForbiddenError('creating a token requires your password (Basic auth), not a token');
    const user = await deps.owners.requireUser(String(req.params.username));
    if (self.id !== user.id) {
      if (!self.isAdmin) throw new ForbiddenError('you may only manage your own tokens');
      assertScope(actor, `${access}:admin`);
    }
    return user;
  }

  router.get('/api/v1/users/:username/tokens', async (req, res) => {
    const user = await target(req, 'read');
    res.json((await deps.tokens.list(user)).map((t) => toApi(t)));
  });

  router.post('/api/v1/users/:username/tokens', json, async (req, res) => {
    const user = await target(req, 'write', true);
    const body = (req.body ?? {}) as { name?: unknown; scopes?: unknown; expires_at?: unknown };
    const expiresAt = parseExpiry(body.expires_at);
    const created = await deps.tokens.create(user, {
      name: String(body.name ?? ''),
      scopes: parseScopes((body.scopes as string[] | string | undefined) ?? ''),
      expiresAt,
    });
    res.status(201).json(toApi(created.info, created.token));
  });

  router.delete('/api/v1/users/:username/tokens/:token', async (req, res) => {
    const user = await target(req, 'write');
    await deps.tokens.revoke(user, String(req.params.token));
    res.status(204).end();
  });

  // Gitea: the signed-in user, which takes `read:user` (a package token must not read the
  // account's email and admin flag).
  router.get('/api/v1/user', (req, res) => {
    const user = requireUserWithScope(req, 'read:user');
    res.json(toApiUser(user, { viewer: user, baseUrl: deps.baseUrl }));
  });

  return router;
}

function parseExpiry(value: unknown): Date | null {
  if (value === undefined || value === null || value === '' || value === 0) return null;
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new BadRequestError('expires_at must be an ISO date or a Unix timestamp');
  return date;
}

function toApi(t: TokenInfo, token?: string) {
  return {
    id: t.id,
    name: t.name,
    // Gitea calls the token "sha1"; it is only ever returned by the creating request.
    sha1: token ?? '',
    token_last_eight: t.tokenLastEight,
    scopes: t.scopes,
    created_at: t.createdAt.toISOString(),
    expires_at: t.expiresAt?.toISOString() ?? null,
    last_used_at: t.lastUsedAt?.toISOString() ?? null,
  };
}
