import type { Request, Response, Router } from 'express';
import type { VNode } from 'preact';
import type { VisibilityRule } from './access.js';
import type { Actor, Owner } from './owners.js';
import type { FileRecord, PackageRecord, VersionRecord } from './registry.js';

/**
 * The web UI seam. Pages are server-rendered preact components (JSX, escaped by
 * construction: never `dangerouslySetInnerHTML`, file names and logs are attacker-controlled);
 * the host draws the layout, navigation and the owner's header, modules draw their content.
 *
 * Addresses (Gitea's): an owner's packages are `/{owner}/-/packages`, a package
 * `/{owner}/-/packages/{type}/{name}`, a version `…/{name}/{version}`; a module's own pages
 * live under `/{owner}/-/packages/{type}/-/…`.
 *
 * Every POST under the UI must carry the CSRF token (form field `_csrf`, or the
 * `X-CSRF-Token` header for scripts); the host answers 403 before any handler runs when it
 * is missing or wrong. UI requests are authenticated by the session cookie only: the actor
 * is `via: 'session'` (or anonymous), never a token, so the access guard's rules apply.
 * See docs/ui.md.
 */
export interface UiPageContext {
  req: Request;
  actor: Actor;
  owner: Owner;
  /** Whether the actor may write to this owner's packages (show upload/delete controls). */
  canWrite: boolean;
  /** Whether the actor administers the owner (the user themself, an org admin, a site admin): settings, keys. */
  canAdmin: boolean;
  /** Hidden-field value (`<input type="hidden" name="_csrf" value={ctx.csrfToken} />`) every POST form must carry. */
  csrfToken: string;
}

export interface UiPage {
  /** Page title (the browser tab shows `title · forge`). */
  title: string;
  body: VNode;
  /** Breadcrumb trail after the owner's name, e.g. [['Nix cache', '/alice/-/packages/nix/-/cache'], ['hello-2.12', '']]; an empty href is the current page. */
  trail?: Array<[label: string, href: string]>;
}

export interface UiContextOptions {
  /**
   * The visibility that applies to this page instead of the one the module declared with
   * `ModuleContext.setVisibility` (or, without one, the owner's own).
   */
  visibility?: VisibilityRule;
}

export interface UiHelpers {
  /**
   * Resolves `req.params.owner`, enforces read access (with the visibility the module
   * declared) and builds the context. Anyone who may not read gets a 404 page (anonymous
   * visitors too: the UI never challenges).
   */
  context(req: Request, options?: UiContextOptions): Promise<UiPageContext>;
  /** Renders a page inside the host layout, under the owner's header. */
  render(res: Response, ctx: UiPageContext, page: UiPage, status?: number): Promise<void>;
  /** Checks the CSRF token of a POST; throws 403 when it is missing or wrong. (The host already did for every UI POST; this is for handlers that want to say so.) */
  verifyCsrf(req: Request): void;
  /** Ends a successful POST with `303 See Other` to a page of this site, with an optional one-time notice shown there. */
  redirect(res: Response, href: string, notice?: string): void;
}

export interface VersionViewInput {
  ctx: UiPageContext;
  pkg: PackageRecord;
  version: VersionRecord;
  files: FileRecord[];
}

export interface SettingsPanelInput {
  ctx: UiPageContext;
  /** Where the panel's forms post to (the host routes them back to `handlePost`). */
  actionUrl: string;
}

export interface SettingsPanel {
  render(input: SettingsPanelInput): Promise<VNode> | VNode;
  /**
   * Handles the panel's POSTs (CSRF verified, the actor administers the owner). Returns a
   * notice to show after the redirect back; a thrown `ForgeError` (e.g. `BadRequestError`)
   * re-renders the settings page with its message next to the panel.
   */
  handlePost(req: Request, ctx: UiPageContext): Promise<string | void>;
}

export interface OwnerTab {
  /** Tab label, e.g. `Nix cache`. */
  label: string;
  /** The tab's address for this owner and viewer, or null to hide it (e.g. cache not enabled). */
  href(ctx: UiPageContext): string | null | Promise<string | null>;
}

export interface UiRegistry {
  /** Module content of a version page (`/{owner}/-/packages/{type}/{name}/{version}`); the host adds the title and a sidebar. */
  versionView(render: (input: VersionViewInput) => Promise<VNode> | VNode): void;
  /**
   * Extra pages mounted at `/{owner}/-/packages/<type>/-/…` (for example the Nix cache
   * overview and store path pages). `router` has `mergeParams`, so `req.params.owner` is set;
   * call `helpers.context(req)` first in every handler.
   */
  pages(mount: (router: Router, helpers: UiHelpers) => void): void;
  /** A panel in the owner's package settings (`/{owner}/-/settings/packages`), shown to those who administer the owner. */
  settingsPanel(panel: SettingsPanel): void;
  /** A tab in the owner's header next to "Packages". */
  ownerTab(tab: OwnerTab): void;
  /**
   * CSS and JavaScript appended to the host's stylesheet and script, which are served from
   * `/assets/` (pages allow no inline `<style>`, `style=` or `<script>`: see docs/ui.md).
   */
  assets(input: { css?: string; js?: string }): void;
}
