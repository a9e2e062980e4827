import type { Owner, User } from '@forge/core';

/**
 * A user or organisation as Gitea's API shows one (its `User` schema: package owners and
 * creators, `GET /api/v1/user`). Fields this registry has no notion of (avatars, full
 * names, followers) keep Gitea's empty values so clients decode them as they would there.
 * The email address is shown only to the user themself and to site admins, as Gitea does.
 */
export interface ApiUser {
  id: number;
  login: string;
  login_name: string;
  full_name: string;
  email: string;
  avatar_url: string;
  html_url: string;
  is_admin: boolean;
  created: string;
  visibility: string;
  active: boolean;
  restricted: boolean;
  username: string;
}

export function toApiUser(owner: Owner, options: { viewer: User | null; baseUrl: string }): ApiUser {
  const { viewer } = options;
  const maySeeAccount = viewer !== null && (viewer.isAdmin || viewer.id === owner.id);
  const isAdmin = owner.type === 'user' && (owner as User).isAdmin;
  return {
    id: owner.id,
    login: owner.name,
    login_name: '',
    full_name: '',
    email: maySeeAccount && owner.type === 'user' ? (owner as User).email : '',
    avatar_url: '',
    html_url: `${options.baseUrl}/${encodeURIComponent(owner.name)}`,
    // Gitea shows the flag to site admins and to the user themself.
    is_admin: maySeeAccount ? isAdmin : false,
    created: owner.createdAt.toISOString(),
    visibility: owner.visibility,
    active: true,
    restricted: false,
    username: owner.name,
  };
}

/**
 * Gitea's stand-in for an account that no longer exists (a version whose creator was
 * deleted): id -1, login `Ghost`.
 */
export function ghostApiUser(baseUrl: string): ApiUser {
  return {
    id: -1,
    login: 'Ghost',
    login_name: '',
    full_name: '',
    email: '',
    avatar_url: '',
    html_url: `${baseUrl}/Ghost`,
    is_admin: false,
    created: new Date(0).toISOString(),
    visibility: 'public',
    active: false,
    restricted: false,
    username: 'Ghost',
  };
}
