import type { ComponentChildren, VNode } from 'preact';
import type { Owner, User } from '@forge/core';
import { Avatar, CsrfField, Notice, VisibilityBadge } from './components.js';
import { href } from './format.js';
import type { Flash } from '../session/session.js';

export interface AssetUrls {
  css: string;
  js: string;
  icon: string;
}

export interface DocumentProps {
  title: string;
  assets: AssetUrls;
  user: User | null;
  /** Present when the visitor has a session (the sign-out form needs it). */
  csrfToken?: string;
  registration: boolean;
  flash: Flash | null;
  /** The current path, to mark the active navigation entry. */
  path: string;
  /** Drawn above the page body, full width (the owner's header). */
  header?: VNode | null;
  /** Narrow, centred content (sign-in and sign-up forms). */
  narrow?: boolean;
  children: ComponentChildren;
}

/** The whole HTML document: head with the server's own assets, navigation bar, content, footer. */
export function Document(props: DocumentProps) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · forge`}</title>
        <link rel="icon" href={props.assets.icon} type="image/svg+xml" />
        <link rel="stylesheet" href={props.assets.css} />
        <script src={props.assets.js} defer></script>
      </head>
      <body>
        <Navbar user={props.user} csrfToken={props.csrfToken} registration={props.registration} path={props.path} />
        {props.header ?? null}
        <main class={props.narrow ? 'container narrow' : 'container'}>
          {props.flash ? <Notice kind={props.flash.kind}>{props.flash.text}</Notice> : null}
          {props.children}
        </main>
        <footer class="footer">
          <div class="container">
            <span>forge package registry</span>
            <span class="muted">Packages, tokens and a Nix binary cache</span>
          </div>
        </footer>
      </body>
    </html>
  );
}

function Navbar(props: { user: User | null; csrfToken?: string; registration: boolean; path: string }) {
  const { user } = props;
  return (
    <header class="navbar">
      <div class="container navbar-inner">
        <a class="brand" href="/">
          <span class="brand-mark" aria-hidden="true">
            ◆
          </span>
          forge
        </a>
        <nav class="nav-main" aria-label="Main">
          {user ? (
            <a href={href(user.name, '-', 'packages')} class={props.path.startsWith(`/${user.name}/-/packages`) ? 'active' : undefined}>
              Your packages
            </a>
          ) : null}
        </nav>
        <div class="nav-user">
          {user ? (
            <details class="menu">
              <summary aria-label="Account menu">
                <Avatar name={user.name} size="sm" />
                <span class="menu-name">{user.name}</span>
                <span class="caret" aria-hidden="true">
                  ▾
                </span>
              </summary>
              <div class="menu-items">
                <div class="menu-header">
                  Signed in as <strong>{user.name}</strong>
                </div>
                <a href={href(user.name, '-', 'packages')}>Your packages</a>
                <a href="/user/settings/applications">Access tokens</a>
                <a href={href(user.name, '-', 'settings')}>Settings</a>
                <a href="/org/create">New organization</a>
                {user.isAdmin ? <a href="/-/admin/storage">Site administration: storage</a> : null}
                <form method="post" action="/user/logout">
                  <CsrfField token={props.csrfToken ?? ''} />
                  <button type="submit" class="menu-button">
                    Sign out
                  </button>
                </form>
              </div>
            </details>
          ) : (
            <>
              {props.registration ? (
                <a class="nav-link" href="/user/sign_up">
                  Register
                </a>
              ) : null}
              <a class="btn btn-small" href={`/user/login${props.path !== '/' && !props.path.startsWith('/user/') ? `?redirect_to=${encodeURIComponent(props.path)}` : ''}`}>
                Sign in
              </a>
            </>
          )}
        </div>
      </div>
    </header>
  );
}

export interface Tab {
  label: string;
  href: string;
}

/** The owner's name, badges and tabs (Gitea's profile header), with an optional breadcrumb trail. */
export function OwnerHeader(props: { owner: Owner; tabs: Tab[]; path: string; trail?: Array<[string, string]> }) {
  const { owner } = props;
  // The tab whose address is the longest prefix of the current path is the active one.
  let active: Tab | undefined;
  for (const tab of props.tabs) {
    const base = tab.href.split('?')[0];
    if ((props.path === base || props.path.startsWith(base.endsWith('/') ? base : base + '/')) && (!active || base.length > active.href.length)) {
      active = tab;
    }
  }
  return (
    <div class="owner-header">
      <div class="container">
        <div class="owner-title">
          <Avatar name={owner.name} size="lg" />
          <div>
            <h1>
              <a href={href(owner.name, '-', 'packages')}>{owner.name}</a>
              {props.trail?.map(([label, link]) => (
                <>
                  <span class="crumb-sep">/</span>
                  {link ? <a href={link}>{label}</a> : <span>{label}</span>}
                </>
              ))}
            </h1>
            <div class="owner-meta">
              <span class="badge badge-outline">{owner.type === 'org' ? 'Organization' : 'User'}</span>
              <VisibilityBadge owner={owner} />
            </div>
          </div>
        </div>
        <nav class="tabs" aria-label={`${owner.name}`}>
          {props.tabs.map((tab) => (
            <a href={tab.href} class={tab === active ? 'tab active' : 'tab'} aria-current={tab === active ? 'page' : undefined}>
              {tab.label}
            </a>
          ))}
        </nav>
      </div>
    </div>
  );
}

/** A page with a left-hand menu (settings). */
export function SideMenuPage(props: { menu: Tab[]; path: string; children: ComponentChildren }) {
  return (
    <div class="with-menu">
      <nav class="side-menu" aria-label="Settings">
        {props.menu.map((item) => (
          <a href={item.href} class={props.path === item.href ? 'active' : undefined} aria-current={props.path === item.href ? 'page' : undefined}>
            {item.label}
          </a>
        ))}
      </nav>
      <div class="with-menu-body">{props.children}</div>
    </div>
  );
}
