import type { Request } from 'express';
import {
  actorHasScope,
  ForbiddenError,
  Memo,
  NotFoundError,
  UnauthorizedError,
  type AccessGuard,
  type AccessMode,
  type Actor,
  type OrgRole,
  type Owner,
  type VisibilityRule,
} from '@forge/core';
import { getActor } from './actor.js';
import type { OwnerService } from './owners.js';

/**
 * How long owners and memberships are remembered. Changes reach every process at once
 * through change notices (the host calls forget()); this bounds a lost notice.
 */
const MEMO_TTL_MS = 60_000;
/** How many owners (and memberships) are remembered. */
const MEMO_MAX_ENTRIES = 10_000;

export interface RequireOptions {
  /** The visibility that applies instead of the owner's own. */
  visibility?: VisibilityRule;
}

/**
 * Package permissions, Gitea's rules:
 * - site admins may do anything;
 * - a user owns their own namespace;
 * - organisation members read with any role, write with `write` or `admin`, and
 *   administer (a package type's settings and keys) with `admin` only;
 * - public owners are readable by everyone;
 * - tokens additionally need `read:package` (read) or `write:package` (write, admin).
 * Failures never reveal what a caller may not see: anonymous callers get 401 (with a
 * Basic challenge) whether the owner is private or absent, others get 404.
 */
export class PackageAccessGuard implements AccessGuard {
  readonly #owners = new Memo<string, Owner | null>({ name: 'owners', maxEntries: MEMO_MAX_ENTRIES, ttlMs: MEMO_TTL_MS });
  readonly #roles = new Memo<string, OrgRole | null>({ name: 'org_roles', maxEntries: MEMO_MAX_ENTRIES, ttlMs: MEMO_TTL_MS });

  constructor(private readonly owners: OwnerService) {
    owners.onChange(() => this.forget());
  }

  /** Drops remembered owners and memberships. */
  forget(): void {
    this.#owners.clear();
    this.#roles.clear();
  }

  actor(req: Request): Actor {
    return getActor(req);
  }

  async require(req: Request, mode: AccessMode, options: RequireOptions = {}): Promise<Owner> {
    const actor = getActor(req);
    const name = String(req.params.owner ?? '');
    const owner = await this.#owners.load(name.toLowerCase(), () => this.owners.findByName(name));
    if (!owner) throw actor.user ? new NotFoundError(`owner "${name}" not found`) : new UnauthorizedError();
    const visibility = options.visibility ? await options.visibility(owner) : owner.visibility;
    await this.check(actor, visibility === owner.visibility ? owner : { ...owner, visibility }, mode, owner.visibility === 'public');
    if (mode !== 'read') sendContinue(req);
    return owner;
  }

  /**
   * `ownerIsPublic`: the owner itself is public although these packages are private (a
   * private cache of a public organisation). Its name is no secret then, so a signed-in
   * caller who may not use them is told that, in words that are the same whether the
   * packages exist or not: a writer gets the 403 any non-member writer gets, a reader a 404
   * that does not claim the owner is missing.
   */
  async check(actor: Actor, owner: Owner, mode: AccessMode, ownerIsPublic = false): Promise<void> {
    const role = await this.roleOf(actor, owner);
    const canRead = owner.visibility === 'public' || role !== null;
    if (!canRead && actor.user && ownerIsPublic) {
      if (mode === 'read') throw new NotFoundError(`"${owner.name}" has no such packages that "${actor.user.name}" may read`);
      throw new ForbiddenError(`"${actor.user.name}" may not ${mode === 'admin' ? 'administer' : 'write to'} the packages of "${owner.name}"`);
    }
    if (!canRead) throw actor.user ? new NotFoundError(`owner "${owner.name}" not found`) : new UnauthorizedError();
    const scope = mode === 'read' ? 'read:package' : 'write:package';
    if (actor.via === 'anonymous') {
      if (mode !== 'read') throw new UnauthorizedError();
      return;
    }
    if (!actorHasScope(actor, scope)) throw new ForbiddenError(`the token lacks the "${scope}" scope`);
    if (mode === 'write' && role !== 'write' && role !== 'admin') {
      throw new ForbiddenError(`"${actor.user?.name}" may not write to the packages of "${owner.name}"`);
    }
    if (mode === 'admin' && role !== 'admin') {
      throw new ForbiddenError(`"${actor.user?.name}" may not administer the packages of "${owner.name}" (that takes the admin role)`);
    }
  }

  readonly #typeVisibility = new Map<string, VisibilityRule>();

  /** A package type's own visibility rule (see ModuleContext.setVisibility). */
  setTypeVisibility(type: string, decide: VisibilityRule): void {
    this.#typeVisibility.set(type, decide);
  }

  /**
   * The guard a module receives: every check applies the visibility its type declared
   * (looked up when the check runs, so a rule declared during registration applies).
   */
  forType(type: string): AccessGuard {
    const visibility: VisibilityRule = (owner) => this.#typeVisibility.get(type)?.(owner) ?? owner.visibility;
    const asType = async (owner: Owner): Promise<Owner> => {
      const decided = await visibility(owner);
      return decided === owner.visibility ? owner : { ...owner, visibility: decided };
    };
    return {
      actor: (req) => this.actor(req),
      require: (req, mode) => this.require(req, mode, { visibility }),
      check: async (actor, owner, mode) => this.check(actor, await asType(owner), mode),
      can: async (actor, owner, mode) => this.can(actor, await asType(owner), mode),
    };
  }

  /**
   * Whether the actor may read the owner's packages of one type: the type's own
   * visibility when its module declared one, else the owner's. Package lists and pages
   * shown by the host use it, so a private namespace never shows.
   */
  async canReadType(actor: Actor, owner: Owner, type: string): Promise<boolean> {
    return this.forType(type).can(actor, owner, 'read');
  }

  async can(actor: Actor, owner: Owner, mode: AccessMode): Promise<boolean> {
    try {
      await this.check(actor, owner, mode);
      return true;
    } catch {
      return false;
    }
  }

  /** The actor's effective role on the owner's packages, or null for none. */
  private async roleOf(actor: Actor, owner: Owner): Promise<OrgRole | null> {
    const user = actor.user;
    if (!user) return null;
    if (user.isAdmin || user.id === owner.id) return 'admin';
    if (owner.type !== 'org') return null;
    return this.#roles.load(`${owner.id}:${user.id}`, () => this.owners.roleIn(owner.id, user.id));
  }
}

/**
 * Answers `Expect: 100-continue` once the caller is known to be allowed to upload, so an
 * unauthorised PUT is refused before its body is sent (Nix 2.8's curl sends the header
 * on every non-empty PUT).
 */
function sendContinue(req: Request): void {
  const res = req.res;
  if (!res || res.headersSent) return;
  if (String(req.headers.expect ?? '').toLowerCase() !== '100-continue') return;
  const state = req as unknown as { forgeContinueSent?: boolean };
  if (state.forgeContinueSent) return;
  state.forgeContinueSent = true;
  res.writeContinue();
}
