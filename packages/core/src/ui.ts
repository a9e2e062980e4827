import type { Request, Response, Router } from 'express';
import type { VNode } from 'preact';
import type { Actor, Owner } from './owners.js';
import type { FileRecord, PackageRecord, VersionRecord } from './registry.js';

/**
 * The web UI seam. Pages are server-rendered preact components (JSX, escaped by
 * construction); the host draws the layout and navigation, modules draw their content.
 */
export interface UiPageContext {
  req: Request;
  actor: Actor;
  owner: Owner;
  /** Whether the actor may write to this owner's packages (show upload/delete controls). */
  canWrite: boolean;
  /** Hidden-field value every POST form must carry. */
  csrfToken: string;
}

export interface UiPage {
  title: string;
  body: VNode;
  /** Breadcrumb-like trail under the owner, e.g. [['nix', '/alice/-/packages/nix']]. */
  trail?: Array<[label: string, href: string]>;
}

export interface UiHelpers {
  /** Resolves `req.params.owner`, enforces read access (404 for the unauthorised), builds the context. */
  context(req: Request): Promise<UiPageContext>;
  /** Renders a page inside the host layout. */
  render(res: Response, ctx: UiPageContext, page: UiPage, status?: number): void;
  /** Checks the CSRF token of a POST; throws 403 when it is missing or wrong. */
  verifyCsrf(req: Request): void;
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

export interface UiRegistry {
  /** Module content of a version page (`/{owner}/-/packages/{type}/{name}/{version}`). */
  versionView(render: (input: VersionViewInput) => Promise<VNode> | VNode): void;
  /**
   * Extra pages mounted at `/{owner}/-/packages/<type>/-/…` (for example the Nix cache
   * overview and store path pages).
   */
  pages(mount: (router: Router, helpers: UiHelpers) => void): void;
  /** A panel in the owner's package settings (`/{owner}/-/settings/packages`). */
  settingsPanel(panel: {
    render(input: SettingsPanelInput): Promise<VNode> | VNode;
    /** Handles the panel's POSTs (CSRF already verified, write access checked). */
    handlePost(req: Request, ctx: UiPageContext): Promise<void>;
  }): void;
  /** Landing link for the type on the owner's package list (defaults to the package list filtered by type). */
  ownerLink(href: (owner: Owner) => string): void;
}
