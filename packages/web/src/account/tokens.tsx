import express, { type Request, type Response, type Router } from 'express';
import { BadRequestError, isForgeError, SCOPES, type Scope, type User } from '@forge/core';
import type { TokenInfo } from '@forge/auth';
import { CodeBlock, EmptyState, Field, Notice, PostForm, Time } from '../shell/components.js';
import { formatDate, formatDateTime } from '../shell/format.js';
import { SideMenuPage } from '../shell/layout.js';
import type { Shell } from '../shell/shell.js';
import { settingsMenu, settingsPath } from '../owners/settings-menu.js';
import { capitalise } from './sign-in.js';

const PATH = '/user/settings/applications';

const SCOPE_HELP: Record<Scope, string> = {
  all: 'Every scope, now and later',
  'read:package': 'Download packages, pull from caches',
  'write:package': 'Publish and delete packages, push to caches (includes read)',
  'read:user': 'Read your account and tokens',
  'write:user': 'Change your account and tokens (includes read)',
  'read:organization': 'Read your organizations',
  'write:organization': 'Change your organizations (includes read)',
  'read:admin': 'Read other users\' accounts and tokens (site administrators)',
  'write:admin': 'Change other users\' accounts and revoke their tokens (includes read)',
};

/** Scope checkboxes by Gitea's categories; administration only for site administrators, who alone can use it. */
function scopeGroups(user: User): Array<[string, Scope[]]> {
  return [
    ['Packages', ['read:package', 'write:package']],
    ['Account', ['read:user', 'write:user']],
    ['Organizations', ['read:organization', 'write:organization']],
    ...(user.isAdmin ? [['Administration', ['read:admin', 'write:admin']] as [string, Scope[]]] : []),
    ['Everything', ['all']],
  ];
}

interface FormState {
  name?: string;
  scopes?: Scope[];
  expires?: string;
  error?: string;
}

/**
 * A user's personal access tokens (Gitea's `/user/settings/applications`): create with
 * scopes and an optional expiry, shown once; list with last use; revoke.
 */
export function tokenRoutes(shell: Shell): Router {
  const router = express.Router();
  const { tokens } = shell.deps;

  async function page(req: Request, res: Response, user: User, extra: { created?: { token: string; info: TokenInfo }; form?: FormState }, status = 200) {
    const list = await tokens.list(user);
    const ctx = await shell.contextOf(req, user);
    const csrf = ctx.csrfToken;
    const form = extra.form ?? {};
    const now = Date.now();
    const tomorrow = formatDate(new Date(now + 86_400_000));
    await shell.render(
      req,
      res,
      {
        title: 'Access tokens',
        owner: { ctx, trail: [['Settings', settingsPath(ctx)], ['Access tokens', '']], activeTab: settingsPath(ctx) },
        body: (
          <SideMenuPage menu={settingsMenu(ctx)} path={PATH}>
            {extra.created ? (
              <div class="card card-success">
                <div class="card-body">
                  <h2 class="card-title">Token “{extra.created.info.name}” created</h2>
                  <p>Copy it now: it is shown only once and cannot be recovered.</p>
                  <CodeBlock code={extra.created.token} label="token" />
                  <p class="hint">
                    Send it as the password of HTTP Basic auth (any username), or as <code>Authorization: token …</code>; in a netrc file:{' '}
                    <code>machine {new URL(shell.deps.baseUrl).hostname} password …</code>
                  </p>
                </div>
              </div>
            ) : null}

            <section class="card">
              <div class="card-header">
                <h2>Access tokens</h2>
                <span class="muted">{list.length === 1 ? '1 token' : `${list.length} tokens`}</span>
              </div>
              {list.length === 0 ? (
                <EmptyState title="No access tokens yet">
                  <p class="muted">Tokens let package clients (curl, nix, …) act as you. Create one below.</p>
                </EmptyState>
              ) : (
                <table class="table" id="tokens">
                  <thead>
                    <tr>
                      <th>Name</th>
                      <th>Scopes</th>
                      <th>Created</th>
                      <th>Last used</th>
                      <th>Expires</th>
                      <th class="actions">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((t) => {
                      const expired = t.expiresAt !== null && t.expiresAt.getTime() <= now;
                      return (
                        <tr data-token={t.name}>
                          <td>
                            <strong>{t.name}</strong>
                            <div class="muted mono small">…{t.tokenLastEight}</div>
                          </td>
                          <td>
                            <div class="badges">
                              {t.scopes.map((s) => (
                                <span class="badge badge-blue">{s}</span>
                              ))}
                            </div>
                          </td>
                          <td>
                            <Time date={t.createdAt} now={now} />
                          </td>
                          <td>{t.lastUsedAt ? <Time date={t.lastUsedAt} now={now} /> : <span class="muted">Never</span>}</td>
                          <td>
                            {t.expiresAt ? (
                              <span class={expired ? 'badge badge-red' : undefined} title={formatDateTime(t.expiresAt)}>
                                {expired ? 'Expired' : formatDate(t.expiresAt)}
                              </span>
                            ) : (
                              <span class="muted">Never</span>
                            )}
                          </td>
                          <td class="actions">
                            <PostForm action={`${PATH}/delete`} csrf={csrf} confirm={`Revoke the token “${t.name}”? Clients using it stop working at once.`}>
                              <input type="hidden" name="id" value={String(t.id)} />
                              <button type="submit" class="btn btn-small btn-danger-outline" aria-label={`Revoke ${t.name}`}>
                                Revoke
                              </button>
                            </PostForm>
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              )}
            </section>

            <section class="card">
              <div class="card-header">
                <h2>Generate a new token</h2>
              </div>
              <div class="card-body">
                {form.error ? <Notice kind="error">{form.error}</Notice> : null}
                <PostForm action={PATH} csrf={csrf} class="stack">
                  <Field label="Token name" for="token-name">
                    <input id="token-name" class="input-medium" name="name" type="text" required maxLength={255} value={form.name ?? ''} placeholder="e.g. laptop, ci-push" />
                  </Field>
                  <fieldset class="field">
                    <legend>Scopes</legend>
                    <div class="scope-grid">
                      {scopeGroups(user).map(([group, scopes]) => (
                        <>
                          <div class="scope-group">{group}</div>
                          {scopes.map((scope) => (
                            <label class="checkbox">
                              <input type="checkbox" name="scopes" value={scope} checked={form.scopes?.includes(scope) ?? false} />
                              <span>
                                <span class="mono scope-name">{scope}</span>
                                <span class="muted small scope-help">{SCOPE_HELP[scope]}</span>
                              </span>
                            </label>
                          ))}
                        </>
                      ))}
                    </div>
                  </fieldset>
                  <Field label="Expires on (optional)" for="token-expiry" hint="The token stops working at the end of that day (UTC). Leave empty for no expiry.">
                    <input id="token-expiry" class="input-short" name="expires_at" type="date" min={tomorrow} value={form.expires ?? ''} />
                  </Field>
                  <div>
                    <button type="submit" class="btn btn-primary">
                      Generate token
                    </button>
                  </div>
                </PostForm>
              </div>
            </section>
          </SideMenuPage>
        ),
      },
      status,
    );
  }

  router.get('/user/settings', (_req, res) => res.redirect(303, PATH));

  router.get(PATH, async (req, res) => {
    await page(req, res, shell.requireUser(req), {});
  });

  router.post(PATH, async (req, res) => {
    const user = shell.requireUser(req);
    const body = req.body as Record<string, string | string[] | undefined>;
    const scopes = ([] as string[]).concat(body.scopes ?? []).filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
    const form: FormState = { name: String(body.name ?? ''), scopes, expires: String(body.expires_at ?? '') };
    try {
      if (scopes.length === 0) throw new BadRequestError('choose at least one scope');
      const created = await tokens.create(user, { name: form.name!, scopes, expiresAt: parseExpiryDate(form.expires!) });
      shell.deps.logger.info('token created', { user: user.name, token: created.info.name, scopes });
      // The token is shown in this response only; nothing keeps it (no redirect, no flash).
      await page(req, res, user, { created });
    } catch (err) {
      if (isForgeError(err) && err.status < 500) return page(req, res, user, { form: { ...form, error: capitalise(err.message) + '.' } }, 400);
      throw err;
    }
  });

  router.post(`${PATH}/delete`, async (req, res) => {
    const user = shell.requireUser(req);
    const id = String((req.body as Record<string, unknown>).id ?? '');
    if (!/^\d+$/.test(id)) throw new BadRequestError('token id is missing');
    const name = (await tokens.list(user)).find((t) => String(t.id) === id)?.name;
    await tokens.revoke(user, Number(id));
    shell.deps.logger.info('token revoked', { user: user.name, token: name });
    shell.redirect(res, PATH, `The token “${name}” was revoked.`);
  });

  return router;
}

/** `YYYY-MM-DD` from a date input: the token lasts until the end of that day, UTC. */
export function parseExpiryDate(value: string): Date | null {
  if (!value) return null;
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new BadRequestError('the expiry must be a date (YYYY-MM-DD)');
  const date = new Date(`${value}T23:59:59.999Z`);
  if (Number.isNaN(date.getTime())) throw new BadRequestError('the expiry is not a valid date');
  if (date.getTime() <= Date.now()) throw new BadRequestError('the expiry must be in the future');
  return date;
}
