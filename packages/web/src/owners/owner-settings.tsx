import express, { type Request, type Response, type Router } from 'express';
import type { VNode } from 'preact';
import { BadRequestError, isForgeError, NotFoundError, type OrgRole, type UiPageContext, type User, type Visibility } from '@forge/core';
import { ORG_ROLES } from '@forge/auth';
import { capitalise } from '../account/sign-in.js';
import { Avatar, Bytes, EmptyState, Field, Notice, PostForm } from '../shell/components.js';
import { href } from '../shell/format.js';
import { SideMenuPage } from '../shell/layout.js';
import type { Shell } from '../shell/shell.js';
import { StorageUsage } from '../shell/storage.js';
import { settingsMenu, settingsPath } from './settings-menu.js';

const ROLE_HELP: Record<OrgRole, string> = {
  read: 'Read packages, also private ones',
  write: 'Read, publish and delete packages',
  admin: 'Everything, including settings and members',
};

/**
 * An owner's settings, for those who administer it (the user, org admins, site admins);
 * everyone else gets 404:
 *   /{owner}/-/settings           visibility
 *   /{owner}/-/settings/members    an organisation's members and roles
 *   /{owner}/-/settings/packages   every module's settings panel; POSTs go to …/packages/{type}
 */
export function ownerSettingsRoutes(shell: Shell): Router {
  const router = express.Router();
  const { owners, registry, ui } = shell.deps;

  async function settingsPage(req: Request, res: Response, ctx: UiPageContext, title: string, body: VNode, status = 200) {
    await shell.render(
      req,
      res,
      {
        title: `${title} · ${ctx.owner.name}`,
        owner: { ctx, trail: [['Settings', settingsPath(ctx)], ...(title === 'General' ? [] : [[title, ''] as [string, string]])] },
        body: (
          <SideMenuPage menu={settingsMenu(ctx)} path={req.path.replace(/\/+$/, '')}>
            {body}
          </SideMenuPage>
        ),
      },
      status,
    );
  }

  // --- general: visibility ---

  router.get('/:owner/-/settings', async (req, res) => {
    const ctx = await shell.adminContext(req);
    const { owner } = ctx;
    const option = (value: Visibility, title: string, text: string) => (
      <label class="radio-card">
        <input type="radio" name="visibility" value={value} checked={owner.visibility === value} />
        <span>
          <strong>{title}</strong>
          <span class="muted small">{text}</span>
        </span>
      </label>
    );
    await settingsPage(
      req,
      res,
      ctx,
      'General',
      <section class="card">
        <div class="card-header">
          <h2>Visibility</h2>
        </div>
        <div class="card-body">
          <PostForm action={settingsPath(ctx)} csrf={ctx.csrfToken} class="stack">
            {option('public', 'Public', `Anyone, also without an account, may see and download the packages of ${owner.name}.`)}
            {option(
              'private',
              'Private',
              owner.type === 'org'
                ? `Only members of ${owner.name} (and site administrators) may see its packages. Everyone else gets “not found”.`
                : `Only you (and site administrators) may see your packages. Everyone else gets “not found”.`,
            )}
            <div>
              <button type="submit" class="btn btn-primary">
                Save visibility
              </button>
            </div>
          </PostForm>
        </div>
      </section>,
    );
  });

  router.post('/:owner/-/settings', async (req, res) => {
    const ctx = await shell.adminContext(req);
    const visibility = String((req.body as Record<string, unknown>).visibility ?? '');
    if (visibility !== 'public' && visibility !== 'private') throw new BadRequestError('visibility must be public or private');
    await owners.setVisibility(ctx.owner.id, visibility);
    shell.deps.logger.info('visibility changed', { owner: ctx.owner.name, visibility, by: ctx.actor.user?.name });
    shell.redirect(res, settingsPath(ctx), `${ctx.owner.name} is now ${visibility}.`);
  });

  // --- organisation members ---

  async function orgContext(req: Request) {
    const ctx = await shell.adminContext(req);
    if (ctx.owner.type !== 'org') throw new NotFoundError();
    return ctx;
  }

  async function membersPage(req: Request, res: Response, ctx: UiPageContext, form: { name?: string; role?: OrgRole; error?: string } = {}, status = 200) {
    const members = await owners.listMembers(ctx.owner);
    const action = `${settingsPath(ctx)}/members`;
    const csrf = ctx.csrfToken;
    await settingsPage(
      req,
      res,
      ctx,
      'Members',
      <>
        <section class="card">
          <div class="card-header">
            <h2>Members</h2>
            <span class="muted">{members.length === 1 ? '1 member' : `${members.length} members`}</span>
          </div>
          <table class="table" id="members">
            <thead>
              <tr>
                <th>Member</th>
                <th>Role</th>
                <th class="actions">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {members.map((m) => (
                <tr data-member={m.user.name}>
                  <td>
                    <a class="owner-link" href={href(m.user.name, '-', 'packages')}>
                      <Avatar name={m.user.name} size="sm" />
                      {m.user.name}
                    </a>
                  </td>
                  <td>
                    <PostForm action={`${action}/role`} csrf={csrf} class="inline-form">
                      <input type="hidden" name="user" value={m.user.name} />
                      <select name="role" aria-label={`Role of ${m.user.name}`}>
                        {ORG_ROLES.map((r) => (
                          <option value={r} selected={r === m.role}>
                            {r}
                          </option>
                        ))}
                      </select>
                      <button type="submit" class="btn btn-small">
                        Change
                      </button>
                    </PostForm>
                  </td>
                  <td class="actions">
                    <PostForm action={`${action}/remove`} csrf={csrf} confirm={`Remove ${m.user.name} from ${ctx.owner.name}?`}>
                      <input type="hidden" name="user" value={m.user.name} />
                      <button type="submit" class="btn btn-small btn-danger-outline" aria-label={`Remove ${m.user.name}`}>
                        Remove
                      </button>
                    </PostForm>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        <section class="card">
          <div class="card-header">
            <h2>Add a member</h2>
          </div>
          <div class="card-body">
            {form.error ? <Notice kind="error">{form.error}</Notice> : null}
            <PostForm action={`${action}/add`} csrf={csrf} class="inline-fields">
              <Field label="Username" for="member-name">
                <input id="member-name" name="user" type="text" required value={form.name ?? ''} />
              </Field>
              <Field label="Role" for="member-role">
                <select id="member-role" name="role">
                  {ORG_ROLES.map((r) => (
                    <option value={r} selected={r === (form.role ?? 'read')}>
                      {r} — {ROLE_HELP[r]}
                    </option>
                  ))}
                </select>
              </Field>
              <div class="field field-button">
                <button type="submit" class="btn btn-primary">
                  Add member
                </button>
              </div>
            </PostForm>
          </div>
        </section>
      </>,
      status,
    );
  }

  router.get('/:owner/-/settings/members', async (req, res) => {
    await membersPage(req, res, await orgContext(req));
  });

  function roleParam(value: unknown): OrgRole {
    const role = String(value ?? '') as OrgRole;
    if (!ORG_ROLES.includes(role)) throw new BadRequestError(`role must be one of ${ORG_ROLES.join(', ')}`);
    return role;
  }

  async function memberUser(value: unknown): Promise<User> {
    const user = await owners.findUser(String(value ?? '').trim());
    if (!user) throw new BadRequestError(`there is no user “${String(value ?? '').trim()}”`);
    return user;
  }

  router.post('/:owner/-/settings/members/add', async (req, res) => {
    const ctx = await orgContext(req);
    const body = req.body as Record<string, unknown>;
    try {
      const role = roleParam(body.role);
      const user = await memberUser(body.user);
      if (await owners.roleIn(ctx.owner.id, user.id)) throw new BadRequestError(`${user.name} is already a member; change the role in the list`);
      await owners.setMember(ctx.owner, user, role);
      shell.redirect(res, `${settingsPath(ctx)}/members`, `${user.name} joined ${ctx.owner.name} as ${role}.`);
    } catch (err) {
      if (!isForgeError(err) || err.status >= 500) throw err;
      await membersPage(req, res, ctx, { name: String(body.user ?? ''), role: ORG_ROLES.find((r) => r === body.role), error: capitalise(err.message) + '.' }, 400);
    }
  });

  router.post('/:owner/-/settings/members/role', async (req, res) => {
    const ctx = await orgContext(req);
    const body = req.body as Record<string, unknown>;
    const role = roleParam(body.role);
    const user = await memberUser(body.user);
    const current = await owners.roleIn(ctx.owner.id, user.id);
    if (!current) throw new BadRequestError(`${user.name} is not a member of ${ctx.owner.name}`);
    if (current === 'admin' && role !== 'admin') {
      const admins = (await owners.listMembers(ctx.owner)).filter((m) => m.role === 'admin').length;
      if (admins <= 1) throw new BadRequestError('an organization needs at least one admin');
    }
    await owners.setMember(ctx.owner, user, role);
    shell.redirect(res, `${settingsPath(ctx)}/members`, `${user.name} is now ${role}.`);
  });

  router.post('/:owner/-/settings/members/remove', async (req, res) => {
    const ctx = await orgContext(req);
    const user = await memberUser((req.body as Record<string, unknown>).user);
    await owners.removeMember(ctx.owner, user);
    // Whoever removed themself may no longer see the settings.
    const stillAdmin = await shell.canAdmin(ctx.actor.user, ctx.owner);
    shell.redirect(res, stillAdmin ? `${settingsPath(ctx)}/members` : '/', `${user.name} left ${ctx.owner.name}.`);
  });

  // --- package settings: the modules' panels ---

  async function packagesPage(req: Request, res: Response, ctx: UiPageContext, failed?: { type: string; message: string }, status = 200) {
    const [usage, packages, storage] = await Promise.all([
      registry.ownerUsage(ctx.owner.id),
      registry.listPackages({ ownerId: ctx.owner.id, limit: 1 }),
      registry.storageStatus(ctx.owner.id),
    ]);
    const panels: VNode[] = [];
    for (const panel of ui.settingsPanels.values()) {
      const content = await panel.render({ ctx, actionUrl: `${settingsPath(ctx)}/packages/${panel.type}` });
      panels.push(
        <section class="card" id={`panel-${panel.type}`}>
          <div class="card-header">
            <h2>{ui.displayNames.get(panel.type) ?? panel.type}</h2>
          </div>
          <div class="card-body">
            {failed?.type === panel.type ? <Notice kind="error">{failed.message}</Notice> : null}
            {content}
          </div>
        </section>,
      );
    }
    await settingsPage(
      req,
      res,
      ctx,
      'Packages',
      <>
        <section class="card">
          <div class="card-header">
            <h2>Storage</h2>
          </div>
          <div class="card-body">
            <StorageUsage status={storage} ownerName={ctx.owner.name} />
            <p class="muted small">
              {ctx.owner.name} is charged each distinct file content it holds once, whoever else stores the same bytes. Only a site
              administrator can change the quota.
            </p>
            {/* What a user means by size: the disk their packages take. Blob and file counts are internals (docs/ui.md). */}
            <dl class="kv" id="storage-usage">
              <dt>Packages</dt>
              <dd>{packages.total.toLocaleString('en')}</dd>
              <dt>Space used</dt>
              <dd>
                <Bytes bytes={usage.distinctBytes} />
                <div class="muted small">The files of these packages as stored; a file in several versions or packages counts once.</div>
              </dd>
            </dl>
          </div>
        </section>
        {panels.length > 0 ? (
          panels
        ) : (
          <section class="card">
            <EmptyState title="No package type has settings yet" />
          </section>
        )}
      </>,
      status,
    );
  }

  router.get('/:owner/-/settings/packages', async (req, res) => {
    await packagesPage(req, res, await shell.adminContext(req));
  });

  router.post('/:owner/-/settings/packages/:type', async (req, res) => {
    const ctx = await shell.adminContext(req);
    const panel = ui.settingsPanels.get(String(req.params.type));
    if (!panel) throw new NotFoundError();
    let notice: string | void;
    try {
      notice = await panel.handlePost(req, ctx);
    } catch (err) {
      if (!isForgeError(err) || err.status >= 500 || err.status === 401 || err.status === 404) throw err;
      return packagesPage(req, res, ctx, { type: panel.type, message: capitalise(err.message) }, err.status);
    }
    shell.redirect(res, `${settingsPath(ctx)}/packages#panel-${panel.type}`, notice || 'Settings saved.');
  });

  return router;
}
