import type { Request } from 'express';
import type { AccessMode, Actor, Owner, Visibility } from './owners.js';

/**
 * Owner resolution and permission checks for a module's routes and pages. The guard a
 * module receives is bound to its package type: when the module declared its own
 * visibility (ModuleContext.setVisibility: a Nix cache may be public under a private
 * owner, or private under a public one), every check here applies it, so a module never
 * passes it per call. Failures are shaped so that nobody without read access learns
 * whether a private owner or package exists: anonymous callers get 401 (with a Basic
 * challenge), others 404; a reader who may not write (or administer) gets 403.
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

/** A package type's own visibility rule (ModuleContext.setVisibility). */
export type VisibilityRule = (owner: Owner) => Visibility | Promise<Visibility>;

/** Owner lookups for modules (UI pages, settings). */
export interface OwnerDirectory {
  findByName(name: string): Promise<Owner | null>;
  findById(id: number): Promise<Owner | null>;
}
