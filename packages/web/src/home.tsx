import express, { type Router } from 'express';
import { netrcLine, type OrgRole, type Owner } from '@forge/core';
import { Avatar, CodeBlock, VisibilityBadge } from './shell/components.js';
import { href } from './shell/format.js';
import type { Shell } from './shell/shell.js';
import { StorageUsage } from './shell/storage.js';

/** `/`: a signed-in user's namespaces; a visitor's introduction. */
export function homeRoutes(shell: Shell): Router {
  const router = express.Router();
  const { owners, registry } = shell.deps;

  router.get('/', async (req, res) => {
    const user = shell.user(req);
    if (!user) {
      await shell.render(req, res, {
        title: 'Welcome',
        body: (
          <div class="hero">
            <h1>A package registry with a Nix binary cache</h1>
            <p class="lead">
              Publish packages under your name or your organization’s, push Nix closures with the stock <code>nix copy</code>, and browse
              everything here.
            </p>
            <p class="hero-actions">
              <a class="btn btn-primary" href="/user/login">
                Sign in
              </a>
              {shell.deps.registration ? (
                <a class="btn" href="/user/sign_up">
                  Register
                </a>
              ) : null}
            </p>
          </div>
        ),
      });
      return;
    }
    const orgs = await owners.listOrgsOf(user);
    const spaces: Array<{ owner: Owner; role: OrgRole | 'owner' }> = [{ owner: user, role: 'owner' }, ...orgs.map((o) => ({ owner: o.org, role: o.role }))];
    const counts = await Promise.all(spaces.map((s) => registry.listPackages({ ownerId: s.owner.id, limit: 1 }).then((r) => r.total)));
    // Storage against the quota, for the namespaces the user writes to (docs/quotas.md).
    const storage = await Promise.all(spaces.map((s) => (s.role === 'read' ? null : registry.storageStatus(s.owner.id))));
    const host = shell.deps.baseUrl;
    await shell.render(req, res, {
      title: 'Dashboard',
      body: (
        <div class="page-grid">
          <div class="page-main">
            <section class="card">
              <div class="card-header">
                <h2>Your namespaces</h2>
                <a class="btn btn-small" href="/org/create">
                  New organization
                </a>
              </div>
              <ul class="list" id="namespaces">
                {spaces.map((s, i) => (
                  <li class="list-item">
                    <a class="owner-link" href={href(s.owner.name, '-', 'packages')}>
                      <Avatar name={s.owner.name} size="sm" />
                      <strong>{s.owner.name}</strong>
                    </a>
                    <span class="badge badge-outline">{s.role === 'owner' ? 'you' : s.role}</span>
                    <VisibilityBadge owner={s.owner} />
                    <span class="list-item-end muted">{counts[i] === 1 ? '1 package' : `${counts[i]} packages`}</span>
                    {storage[i] ? (
                      <div class="list-item-full" data-storage={s.owner.name}>
                        <StorageUsage status={storage[i]!} ownerName={s.owner.name} />
                      </div>
                    ) : null}
                  </li>
                ))}
              </ul>
            </section>
          </div>
          <aside class="page-side">
            <section class="card">
              <div class="card-header">
                <h2>Publishing</h2>
              </div>
              <div class="card-body">
                <p class="small">
                  Package clients sign in with an access token, sent as the password of <code>{user.name}</code>.
                </p>
                <a class="btn btn-small" href="/user/settings/applications">
                  Create an access token
                </a>
                <p class="side-heading">netrc line (curl, nix)</p>
                <CodeBlock code={netrcLine(host, user.name)} label="netrc line" />
                <p class="side-heading">Your package API</p>
                <CodeBlock code={`${host}/api/packages/${user.name}/`} label="package API address" />
              </div>
            </section>
          </aside>
        </div>
      ),
    });
  });

  return router;
}
