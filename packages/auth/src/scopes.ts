import type { Request } from 'express';
import { actorHasScope, ForbiddenError, UnauthorizedError, type Actor, type Scope, type User } from '@forge/core';
import { getActor } from './actor.js';

/**
 * Refuses a token that lacks `scope` (403), as Gitea does on every `/api/v1` route. A
 * password (Basic on the token API) or a session carries every scope; an anonymous
 * caller has no token to restrict, and the route decides what it may see.
 */
export function assertScope(actor: Actor, scope: Scope): void {
  if (actor.via === 'token' && !actorHasScope(actor, scope)) throw new ForbiddenError(`the token lacks the "${scope}" scope`);
}

/** The signed-in caller of a route that needs one, with `scope`: 401 without credentials, 403 without the scope. */
export function requireUserWithScope(req: Request, scope: Scope): User {
  const actor = getActor(req);
  if (!actor.user) throw new UnauthorizedError();
  assertScope(actor, scope);
  return actor.user;
}
