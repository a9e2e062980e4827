import type { Request } from 'express';
import type { AccessMode, Actor, Owner } from './owners.js';

/**
 * Owner resolution and permission checks for package routes. Failures are shaped so
 * that nobody without read access learns whether a private owner or package exists:
 * anonymous callers get 401 (with a Basic challenge), others 404; a reader who may not
 * write gets 403.
 */
export interface AccessGuard {
  /** The actor attached to the request by the host's authentication middleware. */
  actor(req: Request): Actor;
  /** Resolves `req.params.owner` and checks `mode` for the request's actor. */
  require(req: Request, mode: AccessMode): Promise<Owner>;
  /** Checks `mode` on a known owner. */
  check(actor: Actor, owner: Owner, mode: AccessMode): Promise<void>;
  /** Whether the actor may use `mode` on the owner (no throwing). */
  can(actor: Actor, owner: Owner, mode: AccessMode): Promise<boolean>;
}

/** Owner lookups for modules (UI pages, settings). */
export interface OwnerDirectory {
  findByName(name: string): Promise<Owner | null>;
  findById(id: number): Promise<Owner | null>;
}
