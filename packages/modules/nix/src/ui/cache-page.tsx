import type { Request, Response } from 'express';
import type { ComponentChildren } from 'preact';
import { Card, CodeBlock, EmptyState, formatBytes, NotFoundError, Time, TOKEN_PLACEHOLDER, type UiHelpers, type UiPageContext, type Visibility } from '@forge/core';
import type { CacheKey, CacheSettings } from '../cache/index.js';
import { Icon } from './icon.js';
import { NETRC_FILE, nixClientSnippets, pushCommand, type NixClientSnippets } from './client-snippets.js';
import type { NixUi } from './nix-ui.js';

/** `/{owner}/-/packages/nix/-/cache`: how to use the cache, its figures, recent pushes. */
export function cacheOverview(nixUi: NixUi, ui: UiHelpers) {
  const { nix } = nixUi;
  return async (req: Request, res: Response) => {
    const page = await ui.context(req);
    const { settings, visibility } = await nix.access.describe(page.owner);
    if (!settings) {
      // Readers see no cache that does not exist; writers learn how to start one.
      if (!page.canWrite) throw new NotFoundError();
      return ui.render(res, page, { title: `Nix cache · ${page.owner.name}`, trail: [['Nix cache', '']], body: <NoCache nixUi={nixUi} page={page} /> });
    }
    const keys = await nix.admin.keysForClients(page.owner);
    const [stats, stored, recent] = await Promise.all([
      nix.paths.stats(page.owner.id),
      nix.paths.storedNarBytes(page.owner.id),
      nix.paths.list(page.owner.id, { limit: 8 }),
    ]);
    const now = Date.now();
    const owner = page.owner;
    const snippets = nixClientSnippets({
      substituter: nix.substituterUrl(owner),
      publicKeys: keys.map((k) => k.publicKeyText),
      private: visibility === 'private',
      login: page.actor.user?.name,
    });
    const saved = Math.max(stats.fileBytes - stored, 0);
    await ui.render(res, page, {
      title: `Nix cache · ${owner.name}`,
      trail: [['Nix cache', '']],
      body: (
        <>
          <div class="nix-stats" id="cache-figures">
            <Stat label="Store paths" value={stats.paths.toLocaleString('en')} />
            <Stat label="NAR size" value={formatBytes(stats.narBytes)} title={`${stats.narBytes.toLocaleString('en')} bytes`} note="uncompressed, all paths" />
            <Stat
              label="Stored"
              value={formatBytes(stored)}
              title={`${stored.toLocaleString('en')} bytes`}
              note={stats.narBytes > 0 ? `compressed, ${Math.round((stored / stats.narBytes) * 100)}% of NAR size` : 'compressed NAR files'}
            />
            <Stat label="Saved by dedupe" value={formatBytes(saved)} title={`${saved.toLocaleString('en')} bytes`} note="paths sharing one NAR file" />
            <Stat label="Last push" value={stats.lastPush ? <Time date={stats.lastPush} now={now} /> : 'never'} />
          </div>
          <div class="page-grid">
            <div class="page-main">
              <Setup snippets={snippets} keys={keys} private={visibility === 'private'} signedIn={page.actor.user !== null} />
            </div>
            <aside class="page-side">
              <Card title="Find a store path">
                <form method="get" action={nixUi.pathsUrl(owner)} class="nix-search" role="search">
                  <input type="search" name="q" placeholder="Name or hash…" aria-label="Search store paths by name or hash" maxLength={200} />
                  <button type="submit" class="btn">
                    Search
                  </button>
                </form>
              </Card>
              <Card
                title="Recently pushed"
                flush
                end={
                  stats.paths > 0 ? (
                    <a class="small" href={nixUi.pathsUrl(owner)}>
                      All {stats.paths.toLocaleString('en')}
                    </a>
                  ) : null
                }
              >
                {recent.items.length === 0 ? (
                  <EmptyState title="Nothing pushed yet">
                    <p class="muted small">Push with the command on the left.</p>
                  </EmptyState>
                ) : (
                  <ul class="list list-compact nix-recent" id="recent-paths">
                    {recent.items.map((p) => (
                      <li class="list-item">
                        <Icon name="package" />
                        <a class="nix-recent-name" href={nixUi.pathUrl(owner, p.hashPart)} title={`/nix/store/${p.hashPart}-${p.name}`}>
                          {p.name}
                        </a>
                        <span class="list-item-end muted small">
                          <Time date={p.createdAt} now={now} />
                        </span>
                      </li>
                    ))}
                  </ul>
                )}
              </Card>
              <CacheFacts nixUi={nixUi} page={page} settings={settings} visibility={visibility} keys={keys} />
            </aside>
          </div>
        </>
      ),
    });
  };
}

function Stat(props: { label: string; value: ComponentChildren; note?: string; title?: string }) {
  return (
    <div class="nix-stat">
      <div class="nix-stat-label">{props.label}</div>
      <div class="nix-stat-value" title={props.title}>
        {props.value}
      </div>
      {props.note ? <div class="nix-stat-note">{props.note}</div> : null}
    </div>
  );
}

function Setup(props: { snippets: NixClientSnippets; keys: CacheKey[]; private: boolean; signedIn: boolean }) {
  const { snippets } = props;
  const retired = props.keys.filter((k) => !k.active).length;
  return (
    <Card title="Use this cache" id="setup">
      <div class="nix-setup">
        <h3>Substituter</h3>
        <CodeBlock code={snippets.substituter} label="substituter URL" id="snippet-substituter" />
        <h3>Public {props.keys.length === 1 ? 'key' : 'keys'}</h3>
        <p class="hint">
          Add {props.keys.length === 1 ? 'it' : 'them'} to <code>trusted-public-keys</code>, next to the keys already there. The server signs every
          path with its active key{retired > 0 ? `; the ${retired === 1 ? 'retired key is' : `${retired} retired keys are`} still served for clients that trust only ${retired === 1 ? 'it' : 'them'}` : ''}.
        </p>
        <CodeBlock code={snippets.publicKeys} label="public keys" id="snippet-keys" />

        <h3>
          <code>nix.conf</code>
        </h3>
        <p class="hint">
          In <code>/etc/nix/nix.conf</code> (then restart <code>nix-daemon</code>). The <code>extra-</code> settings keep cache.nixos.org.
        </p>
        <CodeBlock code={snippets.nixConf} label="nix.conf snippet" id="snippet-nix-conf" />

        <h3>NixOS</h3>
        <p class="hint">
          In <code>configuration.nix</code>. NixOS adds cache.nixos.org to these lists itself.
        </p>
        <CodeBlock code={snippets.nixos} label="NixOS snippet" id="snippet-nixos" />

        <h3>Credentials</h3>
        <p class="hint">
          {props.private ? 'This cache is private: readers need ' : 'Reading needs no token; pushing needs '}
          an <a href="/user/settings/applications">access token</a> with the{' '}
          <code>{props.private ? 'read:package' : 'write:package'}</code> scope{props.private ? (
            <>
              {' '}
              (<code>write:package</code> to push)
            </>
          ) : null}
          , in <code>{NETRC_FILE}</code> (mode 600) in place of <code>{TOKEN_PLACEHOLDER}</code>.
        </p>
        <CodeBlock code={snippets.netrc} label="netrc line" id="snippet-netrc" />

        <h3>Push</h3>
        <p class="hint">
          Copies a closure with everything it references. Add <code>?compression=zstd</code> to the URL for faster uploads.
        </p>
        <CodeBlock code={snippets.push} label="nix copy command" id="snippet-push" />
      </div>
    </Card>
  );
}

function CacheFacts(props: { nixUi: NixUi; page: UiPageContext; settings: CacheSettings; visibility: Visibility; keys: CacheKey[] }) {
  const { page, settings, visibility } = props;
  const active = props.keys.find((k) => k.active);
  return (
    <Card title="About this cache" end={page.canAdmin ? <a class="small" href={props.nixUi.settingsUrl(page.owner)}>Settings</a> : null}>
      <dl class="kv">
        <dt>Visibility</dt>
        <dd>
          {visibility === 'private' ? <span class="badge badge-gray">Private</span> : <span class="badge badge-green">Public</span>}
          {settings.visibility === 'inherit' ? <span class="muted small"> (as {page.owner.name})</span> : null}
        </dd>
        <dt>Priority</dt>
        <dd>
          {settings.priority} <span class="muted small">(cache.nixos.org: 40)</span>
        </dd>
        {active ? (
          <>
            <dt>Signing key</dt>
            <dd class="mono small">{active.name}</dd>
          </>
        ) : null}
        <dt>Enabled</dt>
        <dd>
          <Time date={settings.createdAt} />
        </dd>
      </dl>
    </Card>
  );
}

function NoCache({ nixUi, page }: { nixUi: NixUi; page: UiPageContext }) {
  const url = nixUi.nix.substituterUrl(page.owner);
  return (
    <section class="card">
      <EmptyState title={`${page.owner.name} has no Nix cache yet`}>
        <p class="muted">
          The first push creates it, with a signing key of its own.
          {page.canAdmin ? (
            <>
              {' '}
              Or enable it in the <a href={nixUi.settingsUrl(page.owner)}>package settings</a>.
            </>
          ) : null}
        </p>
        <div class="nix-empty-snippet">
          <CodeBlock code={pushCommand(url)} label="nix copy command" />
        </div>
      </EmptyState>
    </section>
  );
}
