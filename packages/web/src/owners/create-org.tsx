import express, { type Request, type Response, type Router } from 'express';
import { isForgeError } from '@forge/core';
import { capitalise } from '../account/sign-in.js';
import { Field, Notice, PostForm } from '../shell/components.js';
import { href } from '../shell/format.js';
import type { Shell } from '../shell/shell.js';

/** Gitea's `/org/create`: any signed-in user may found an organisation and becomes its admin. */
export function createOrgRoutes(shell: Shell): Router {
  const router = express.Router();

  function page(req: Request, res: Response, form: { name?: string; visibility?: string; error?: string } = {}, status = 200) {
    return shell.render(
      req,
      res,
      {
        title: 'New organization',
        narrow: true,
        body: (
          <div class="card form-card">
            <h1 class="card-title">New organization</h1>
            {form.error ? <Notice kind="error">{form.error}</Notice> : null}
            <PostForm action="/org/create" csrf={shell.csrfToken(req)} class="stack">
              <Field label="Organization name" for="org-name" hint="Its packages live under this name, next to users’ names.">
                <input id="org-name" name="org_name" type="text" required autofocus maxLength={40} value={form.name ?? ''} />
              </Field>
              <fieldset class="field">
                <legend>Visibility</legend>
                <label class="radio">
                  <input type="radio" name="visibility" value="public" checked={form.visibility !== 'private'} /> Public
                </label>
                <label class="radio">
                  <input type="radio" name="visibility" value="private" checked={form.visibility === 'private'} /> Private (members only)
                </label>
              </fieldset>
              <button type="submit" class="btn btn-primary btn-block">
                Create organization
              </button>
            </PostForm>
          </div>
        ),
      },
      status,
    );
  }

  router.get('/org/create', async (req, res) => {
    shell.requireUser(req);
    await page(req, res);
  });

  router.post('/org/create', async (req, res) => {
    const user = shell.requireUser(req);
    const body = req.body as Record<string, string | undefined>;
    const name = String(body.org_name ?? '').trim();
    const visibility = body.visibility === 'private' ? 'private' : 'public';
    try {
      const org = await shell.deps.owners.createOrg({ name, owner: user, visibility });
      shell.redirect(res, href(org.name, '-', 'packages'), `The organization ${org.name} was created; you are its admin.`);
    } catch (err) {
      if (isForgeError(err) && err.status < 500) return page(req, res, { name, visibility, error: capitalise(err.message) + '.' }, 400);
      throw err;
    }
  });

  return router;
}
