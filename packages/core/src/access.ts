import type { Request } from 'express';
import type { AccessMode, Actor, Owner, Visibility } from './owners.js';

/**
 * Owner resolution and permission checks for package routes. Failures are shaped so
 * that nobody without read access learns whether a private owner or package exists:
 * anonymous callers get 401 (with a Basic challenge), others 404; a reader who may not
 * write (or administer) gets 403.
 */
export interface AccessGuard {
  /** The actor attached to the request by the host's authentication middleware. */
  actor(req: Request): Actor;
  /**
   * Resolves `req.params.owner` and checks `mode` for the request's actor. A module whose
   * namespace has its own visibility (a Nix cache may be public under a private owner, or
   * private under a public one) passes `visibility` to decide it per owner.
   */
  require(req: Request, mode: AccessMode, options?: RequireOptions): Promise<Owner>;
  /** Checks `mode` on a known owner. */
  check(actor: Actor, owner: Owner, mode: AccessMode): Promise<void>;
  /** Whether the actor may use `mode` on the owner (no throwing). */
  can(actor: Actor, owner: Owner, mode: AccessMode): Promise<boolean>;
  /**
   * Whether the actor may read the owner's packages of one type: the type's own
   * visibility when its module declared one (ModuleContext.setVisibility), else the owner's.
   * Package lists and pages shown by the host use it, so a private namespace never shows.
   */
  canReadType(actor: Actor, owner: Owner, type: string): Promise<boolean>;
}

export interface RequireOptions {
  /** The visibility that applies instead of the owner's own. */
  visibility?: (owner: Owner) => Visibility | Promise<Visibility>;
}

/** Owner lookups for modules (UI pages, settings). */
export interface OwnerDirectory {
  findByName(name: string): Promise<Owner | null>;
  findById(id: number): Promise<Owner | null>;
}
