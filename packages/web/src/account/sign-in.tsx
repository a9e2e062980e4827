import express, { type Request, type Response, type Router } from 'express';
import { ForbiddenError, isForgeError, TooManyRequestsError, type User } from '@forge/core';
import { MIN_PASSWORD_LENGTH } from '@forge/auth';
import { Field, Notice, PostForm } from '../shell/components.js';
import { query, safeRedirect } from '../shell/format.js';
import type { Shell } from '../shell/shell.js';

/** Gitea's addresses: `/user/login`, `/user/sign_up`, `POST /user/logout`. */
export function accountRoutes(shell: Shell): Router {
  const router = express.Router();
  const { owners } = shell.deps;

  function signInPage(req: Request, res: Response, input: { name?: string; error?: string; redirectTo: string }, status = 200) {
    return shell.render(
      req,
      res,
      {
        title: 'Sign in',
        narrow: true,
        body: (
          <div class="card form-card">
            <h1 class="card-title">Sign in</h1>
            {input.error ? <Notice kind="error">{input.error}</Notice> : null}
            <PostForm action={'/user/login' + query({ redirect_to: input.redirectTo === '/' ? undefined : input.redirectTo })} csrf={shell.csrfToken(req)}>
              <Field label="Username or email address" for="user_name">
                <input id="user_name" name="user_name" type="text" required autofocus={!input.name} autocomplete="username" value={input.name ?? ''} />
              </Field>
              <Field label="Password" for="password">
                <input id="password" name="password" type="password" required autofocus={!!input.name} autocomplete="current-password" />
              </Field>
              <button type="submit" class="btn btn-primary btn-block">
                Sign in
              </button>
            </PostForm>
            {shell.deps.registration ? (
              <p class="form-footer">
                New here? <a href="/user/sign_up">Register an account</a>
              </p>
            ) : null}
          </div>
        ),
      },
      status,
    );
  }

  router.get('/user/login', async (req, res) => {
    const redirectTo = safeRedirect(req.query.redirect_to);
    if (shell.user(req)) return res.redirect(303, redirectTo);
    await signInPage(req, res, { redirectTo });
  });

  router.post('/user/login', async (req, res) => {
    const body = req.body as Record<string, string | undefined>;
    const redirectTo = safeRedirect(req.query.redirect_to ?? body.redirect_to);
    const name = String(body.user_name ?? '').trim();
    let user: User | null = null;
    try {
      const client = { address: shell.deps.clientAddress(req), via: 'form' as const };
      user = name && body.password ? await shell.deps.signIn.verify(name, String(body.password), client) : null;
    } catch (err) {
      if (!(err instanceof TooManyRequestsError)) throw err;
      res.setHeader('Retry-After', String(err.retryAfterSeconds));
      return signInPage(req, res, { name, redirectTo, error: `Too many failed sign-ins: ${err.message.replace(/^.*; /, '')}.` }, 429);
    }
    if (!user) {
      return signInPage(req, res, { name, redirectTo, error: 'The username or password is incorrect.' }, 400);
    }
    shell.signIn(req, res, user);
    res.redirect(303, redirectTo);
  });

  router.post('/user/logout', (req, res) => {
    shell.signOut(req, res);
    res.redirect(303, '/');
  });

  interface SignUpInput {
    user_name?: string;
    email?: string;
    error?: string;
  }

  function signUpPage(req: Request, res: Response, input: SignUpInput, status = 200) {
    return shell.render(
      req,
      res,
      {
        title: 'Register',
        narrow: true,
        body: (
          <div class="card form-card">
            <h1 class="card-title">Register</h1>
            {input.error ? <Notice kind="error">{input.error}</Notice> : null}
            <PostForm action="/user/sign_up" csrf={shell.csrfToken(req)}>
              <Field label="Username" for="user_name" hint="Letters, digits, “-”, “_” and “.”; your packages live under this name.">
                <input id="user_name" name="user_name" type="text" required autofocus autocomplete="username" maxLength={40} value={input.user_name ?? ''} />
              </Field>
              <Field label="Email address" for="email">
                <input id="email" name="email" type="email" required autocomplete="email" value={input.email ?? ''} />
              </Field>
              <Field label="Password" for="password" hint={`At least ${MIN_PASSWORD_LENGTH} characters, and none of the most common passwords. A few unrelated words work well.`}>
                <input id="password" name="password" type="password" required minLength={MIN_PASSWORD_LENGTH} autocomplete="new-password" />
              </Field>
              <Field label="Confirm password" for="retype">
                <input id="retype" name="retype" type="password" required minLength={MIN_PASSWORD_LENGTH} autocomplete="new-password" />
              </Field>
              <button type="submit" class="btn btn-primary btn-block">
                Register account
              </button>
            </PostForm>
            <p class="form-footer">
              Already have an account? <a href="/user/login">Sign in</a>
            </p>
          </div>
        ),
      },
      status,
    );
  }

  function registrationOpen() {
    if (!shell.deps.registration) throw new ForbiddenError('Registration is disabled on this server. Ask an administrator for an account.');
  }

  router.get('/user/sign_up', async (req, res) => {
    registrationOpen();
    if (shell.user(req)) return res.redirect(303, '/');
    await signUpPage(req, res, {});
  });

  router.post('/user/sign_up', async (req, res) => {
    registrationOpen();
    const body = req.body as Record<string, string | undefined>;
    const input = { user_name: String(body.user_name ?? '').trim(), email: String(body.email ?? '').trim() };
    if (String(body.password ?? '') !== String(body.retype ?? '')) {
      return signUpPage(req, res, { ...input, error: 'The passwords do not match.' }, 400);
    }
    let user: User;
    try {
      // As in Gitea, the first account of a fresh server becomes its administrator, where
      // FORGE_FIRST_SIGNUP_ADMIN allows it (by default only on a loopback base URL).
      const first = shell.deps.firstSignUpAdmin === true && (await owners.countUsers()) === 0;
      user = await owners.createUser({ username: input.user_name, email: input.email, password: String(body.password ?? ''), isAdmin: first });
    } catch (err) {
      if (isForgeError(err) && err.status < 500) return signUpPage(req, res, { ...input, error: capitalise(err.message) + '.' }, 400);
      throw err;
    }
    shell.deps.logger.info('user registered', { user: user.name, admin: user.isAdmin });
    shell.signIn(req, res, user);
    shell.redirect(res, '/', `Welcome, ${user.name}! Your account was created.`);
  });

  return router;
}

export function capitalise(s: string): string {
  return s.slice(0, 1).toUpperCase() + s.slice(1);
}
