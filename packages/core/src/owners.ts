/** Owners: users and organisations share one case-insensitive namespace (as in Gitea). */
export type OwnerType = 'user' | 'org';
export type Visibility = 'public' | 'private';

export interface Owner {
  id: number;
  /** Display spelling; lookups use `lowerName`. */
  name: string;
  lowerName: string;
  type: OwnerType;
  visibility: Visibility;
  createdAt: Date;
}

export interface User extends Owner {
  type: 'user';
  email: string;
  isAdmin: boolean;
}

export type OrgRole = 'read' | 'write' | 'admin';

/**
 * Token scopes, Gitea's categories for what this registry serves: `package` (package
 * routes and package lists), `user` (the account: `/api/v1/user`, its tokens),
 * `organization` (organisations; no API route needs it yet), `admin` (site
 * administration: acting on other users' accounts, for site admins only). `write:X`
 * implies `read:X`; `all` implies everything.
 */
export const SCOPES = [
  'all',
  'read:package',
  'write:package',
  'read:user',
  'write:user',
  'read:organization',
  'write:organization',
  'read:admin',
  'write:admin',
] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * What a caller wants to do with an owner's packages: `read` them, `write` them (upload,
 * delete), or `admin`ister them (a package type's settings and keys, such as a Nix cache's
 * visibility and signing keys): the owner itself, organisation admins and site admins.
 */
export type AccessMode = 'read' | 'write' | 'admin';

/** Who is making a request, and with which powers. */
export interface Actor {
  /** null for anonymous requests. */
  user: User | null;
  /** How the caller authenticated. A password or session carries every scope. */
  via: 'anonymous' | 'token' | 'password' | 'session';
  /** Scopes granted to this request (tokens); undefined means unrestricted (password, session). */
  scopes?: ReadonlySet<Scope>;
  /** Token id when `via === 'token'`. */
  tokenId?: number;
  /** The token's name when `via === 'token'` (provenance: which token pushed a package). */
  tokenName?: string;
}

export const ANONYMOUS: Actor = Object.freeze({ user: null, via: 'anonymous' });

/** Whether the actor's credentials carry `scope` (hierarchy: all > write:X > read:X). */
export function actorHasScope(actor: Actor, scope: Scope): boolean {
  if (actor.via === 'anonymous') return false;
  if (!actor.scopes) return true;
  if (actor.scopes.has('all') || actor.scopes.has(scope)) return true;
  if (scope.startsWith('read:')) return actor.scopes.has(`write:${scope.slice(5)}` as Scope);
  return false;
}
