import type { IncomingMessage } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { VNode } from 'preact';
import { renderToString } from 'preact-render-to-string';
import {
  ANONYMOUS,
  ForbiddenError,
  ForgeError,
  Memo,
  NotFoundError,
  type Logger,
  type Owner,
  type RegistryService,
  type UiContextOptions,
  type UiHelpers,
  type UiPage,
  type UiPageContext,
  type User,
} from '@forge/core';
import { setActor, type OwnerService, type PackageAccessGuard, type PasswordSignIn, type TokenService } from '@forge/auth';
import type { UiContributions } from '../ui-registry.js';
import { SessionCodec, type Flash, type SessionClaims } from '../session/session.js';
import type { Assets } from './assets.js';
import { href, safeRedirect } from './format.js';
import { Document, OwnerHeader, type Tab } from './layout.js';
import { QuotaBanner } from './storage.js';

export interface WebUiDeps {
  owners: OwnerService;
  tokens: TokenService;
  /** Password checks of the sign-in form (throttled and logged like the API's). */
  signIn: PasswordSignIn;
  /** The client's address, as the host resolves it (FORGE_TRUST_PROXY). */
  clientAddress: (req: IncomingMessage) => string;
  access: PackageAccessGuard;
  registry: RegistryService;
  ui: UiContributions;
  /** Key for session cookies and CSRF tokens (derived from the server secret). */
  sessionKey: Buffer;
  /** Public base URL: https turns on `Secure` cookies; snippets show it. */
  baseUrl: string;
  /** Self-registration (`FORGE_DISABLE_REGISTRATION` turns it off). */
  registration: boolean;
  /** The first account registered becomes the site administrator (`FORGE_FIRST_SIGNUP_ADMIN`). */
  firstSignUpAdmin?: boolean;
  logger: Logger;
}

/** Thrown by pages that need a signed-in user; GETs are redirected to the sign-in page. */
export class SignInRequiredError extends ForgeError {
  constructor() {
    super(401, 'sign_in_required', 'sign in to see this page');
  }
}

interface RequestState {
  session: SessionClaims | null;
  user: User | null;
}

/** A page of the host itself (not under an owner) or of an owner. */
export interface ShellPage {
  title: string;
  body: VNode;
  narrow?: boolean;
  owner?: { ctx: UiPageContext; trail?: Array<[string, string]>; activeTab?: string };
}

/** How long a signed-in user's row is trusted from memory (admin flags, deletion). */
const USER_MEMO_MS = 5_000;

/**
 * What every UI page shares: the session of the request, CSRF checks, owner contexts and
 * rendering inside the layout. Route groups receive it; modules see it as `UiHelpers`.
 */
export class Shell {
  readonly codec: SessionCodec;
  readonly #states = new WeakMap<Request, RequestState>();
  readonly #users = new Memo<number, User | null>({ maxEntries: 10_000, ttlMs: USER_MEMO_MS });

  constructor(
    readonly deps: WebUiDeps,
    readonly assets: Assets,
  ) {
    this.codec = new SessionCodec({ key: deps.sessionKey, secure: deps.baseUrl.startsWith('https:') });
    deps.owners.onChange(() => this.#users.clear());
  }

  /** The helpers a module's pages receive: `context` applies the visibility its type declared. */
  helpersFor(type: string): UiHelpers {
    return {
      context: (req, options) => this.ownerContext(req, { type, ...options }),
      render: (res, ctx, page, status) => this.renderOwnerPage(res, ctx, page, status),
      verifyCsrf: (req) => this.verifyCsrf(req),
      redirect: (res, target, notice) => this.redirect(res, target, notice),
    };
  }

  /**
   * Reads the session cookie and makes it the request's actor. UI requests are
   * authenticated by the session only: a token sent along (or a browser's cached Basic
   * credentials) never acts in the UI, where forms could be forged.
   */
  sessionMiddleware(): RequestHandler {
    return async (req: Request, res: Response, next: NextFunction) => {
      const claims = this.codec.read(req);
      let user: User | null = null;
      if (claims?.uid) {
        const uid = claims.uid;
        user = await this.#users.load(uid, async () => {
          const owner = await this.deps.owners.findById(uid);
          return owner?.type === 'user' ? (owner as User) : null;
        });
      }
      if (claims && this.codec.shouldRenew(claims.issuedAt)) this.codec.write(res, { sid: claims.sid, uid: user?.id });
      this.#states.set(req, { session: claims, user });
      setActor(req, user ? { user, via: 'session' } : ANONYMOUS);
      next();
    };
  }

  /** Refuses every state-changing request without the session's CSRF token (403). */
  csrfMiddleware(): RequestHandler {
    return (req, _res, next) => {
      if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
      this.verifyCsrf(req);
      next();
    };
  }

  verifyCsrf(req: Request): void {
    const session = this.#states.get(req)?.session;
    const body = req.body as Record<string, unknown> | undefined;
    const token = body?._csrf ?? req.get('x-csrf-token');
    if (!session || !this.codec.verifyCsrf(session.sid, token)) {
      throw new ForbiddenError('the form has expired or did not come from this site (invalid CSRF token); reload the page and try again');
    }
  }

  user(req: Request): User | null {
    return this.#states.get(req)?.user ?? null;
  }

  requireUser(req: Request): User {
    const user = this.user(req);
    if (!user) throw new SignInRequiredError();
    return user;
  }

  /** The CSRF token of the request's session; a visitor without one gets a session now. */
  csrfToken(req: Request): string {
    const state = this.#states.get(req) ?? { session: null, user: null };
    if (!state.session) {
      if (!req.res) throw new Error('csrfToken needs a response to set the session cookie on');
      state.session = this.codec.create(req.res);
      this.#states.set(req, state);
    }
    return this.codec.csrfToken(state.session.sid);
  }

  signIn(req: Request, res: Response, user: User): void {
    const session = this.codec.create(res, user.id);
    this.#states.set(req, { session, user });
    setActor(req, { user, via: 'session' });
  }

  signOut(req: Request, res: Response): void {
    this.codec.clear(res);
    this.#states.set(req, { session: null, user: null });
    setActor(req, ANONYMOUS);
  }

  redirect(res: Response, target: string, notice?: string | Flash): void {
    if (notice) this.codec.setFlash(res, typeof notice === 'string' ? { kind: 'success', text: notice } : notice);
    res.redirect(303, safeRedirect(target));
  }

  /** Whether the user administers the owner: themself, an admin of the organisation, or a site admin. */
  async canAdmin(user: User | null, owner: Owner): Promise<boolean> {
    if (!user) return false;
    if (user.isAdmin || user.id === owner.id) return true;
    return owner.type === 'org' && (await this.deps.owners.roleIn(owner.id, user.id)) === 'admin';
  }

  /**
   * The owner of `req.params.owner` as the actor may see it. Anyone who may not read it
   * gets 404, signed in or not: the UI never reveals that a private owner exists. A page of
   * a package type is read with that type's visibility (or the one `options` gives).
   */
  async ownerContext(req: Request, options: UiContextOptions & { type?: string } = {}): Promise<UiPageContext> {
    const name = String(req.params.owner ?? '');
    const owner = await this.deps.owners.findByName(name);
    if (!owner) throw new NotFoundError();
    const actor = this.deps.access.actor(req);
    const readable = options.visibility
      ? await this.deps.access.can(actor, { ...owner, visibility: await options.visibility(owner) }, 'read')
      : options.type
        ? await this.deps.access.canReadType(actor, owner, options.type)
        : await this.deps.access.can(actor, owner, 'read');
    if (!readable) throw new NotFoundError();
    return this.contextOf(req, owner);
  }

  /** The context of an owner the actor is known to be allowed to read. */
  async contextOf(req: Request, owner: Owner): Promise<UiPageContext> {
    const actor = this.deps.access.actor(req);
    const [canWrite, canAdmin] = await Promise.all([this.deps.access.can(actor, owner, 'write'), this.canAdmin(actor.user, owner)]);
    const shell = this;
    return {
      req,
      actor,
      owner,
      canWrite,
      canAdmin,
      // Lazy: a visitor who is only reading gets no cookie.
      get csrfToken() {
        return shell.csrfToken(req);
      },
    };
  }

  /** An owner context for settings pages: 404 for everyone who does not administer the owner. */
  async adminContext(req: Request): Promise<UiPageContext> {
    const ctx = await this.ownerContext(req);
    if (!ctx.canAdmin) throw new NotFoundError();
    return ctx;
  }

  async ownerTabs(ctx: UiPageContext): Promise<Tab[]> {
    const base = href(ctx.owner.name, '-');
    const tabs: Tab[] = [{ label: 'Packages', href: `${base}/packages` }];
    for (const tab of this.deps.ui.ownerTabs) {
      const link = await tab.href(ctx);
      if (link) tabs.push({ label: tab.label, href: link });
    }
    if (ctx.canAdmin) tabs.push({ label: 'Settings', href: `${base}/settings` });
    return tabs;
  }

  renderOwnerPage(res: Response, ctx: UiPageContext, page: UiPage, status = 200): Promise<void> {
    return this.render(res.req, res, { title: page.title, body: page.body, owner: { ctx, trail: page.trail } }, status);
  }

  /** Renders a full page. Everything goes through preact, which escapes text and attributes. */
  async render(req: Request, res: Response, page: ShellPage, status = 200): Promise<void> {
    const state = this.#states.get(req);
    const user = state?.user ?? null;
    // req.path is relative to the router a page is mounted on; the layout needs the full one.
    const path = (req.baseUrl + req.path).replace(/(.)\/+$/, '$1');
    let header: VNode | null = null;
    if (page.owner) {
      const tabs = await this.ownerTabs(page.owner.ctx);
      header = (
        <OwnerHeader owner={page.owner.ctx.owner} tabs={tabs} path={page.owner.activeTab ?? path} trail={page.owner.trail} />
      );
    }
    // Writers of an owner see its quota warning on every one of its pages (docs/quotas.md).
    let body = page.body;
    if (page.owner?.ctx.canWrite) {
      const status = await this.deps.registry.storageStatus(page.owner.ctx.owner.id);
      if (status.level !== 'ok') {
        body = (
          <>
            <QuotaBanner status={status} ownerName={page.owner.ctx.owner.name} />
            {page.body}
          </>
        );
      }
    }
    const flash = this.codec.takeFlash(req, res);
    const html = renderToString(
      <Document
        title={page.title}
        assets={this.assets.urls}
        user={user}
        csrfToken={user ? this.csrfToken(req) : undefined}
        registration={this.deps.registration}
        flash={flash}
        path={path}
        header={header}
        narrow={page.narrow}
      >
        {body}
      </Document>,
    );
    res.status(status);
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    // Pages show private data and tokens: no cache keeps them.
    res.setHeader('Cache-Control', 'no-store');
    res.send('<!DOCTYPE html>\n' + html);
  }
}
