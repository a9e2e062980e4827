import type { Request } from 'express';
import type { ComponentChildren } from 'preact';
import { BadRequestError, Bytes, CodeBlock, CsrfField, formatDuration, NotFoundError, parseDuration, type SettingsPanel, type SettingsPanelInput, Time, type UiPageContext } from '@forge/core';
import { formatPublicKey } from '../format/index.js';
import { DEFAULT_PRIORITY, type CacheVisibility, type CollectionReport } from '../cache/index.js';
import type { NixUi } from './nix-ui.js';

/** What the form offers: cache.nixos.org and its key (https://cache.nixos.org/nix-cache-info; the key as NixOS ships it). */
const NIXOS_CACHE = 'https://cache.nixos.org';
const NIXOS_KEY = 'cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=';

const VISIBILITIES: Array<[CacheVisibility, string, string]> = [
  ['inherit', 'Same as the owner', 'Public when the owner is public, private when it is private.'],
  ['public', 'Public', 'Anyone can substitute from it, also while the owner is private.'],
  ['private', 'Private', 'Only members with a token (read:package) can substitute.'],
];

/** The Nix cache's card in `/{owner}/-/settings/packages`: enable, priority, visibility, keys. */
export function nixSettingsPanel(nixUi: NixUi): SettingsPanel {
  const { nix } = nixUi;
  return {
    async render({ ctx: page, actionUrl }: SettingsPanelInput) {
      const owner = page.owner;
      const { settings, visibility: effective, keys, trustedKeys: trusted } = await nix.admin.overview(owner);
      const upstreams = settings ? await nix.upstreams.list(owner.id) : [];
      const form = (action: string, children: ComponentChildren, options: { confirm?: string; class?: string; id?: string } = {}) => (
        <form method="post" action={actionUrl} class={options.class} data-confirm={options.confirm} id={options.id}>
          <CsrfField token={page.csrfToken} />
          <input type="hidden" name="action" value={action} />
          {children}
        </form>
      );
      if (!settings) {
        return (
          <div class="nix-panel" id="nix-settings">
            <p>
              A Nix binary cache at <code class="break">{nix.substituterUrl(owner)}</code>: push closures with <code>nix copy</code>, substitute from it with
              the stock <code>nix</code>. The server signs every path with a key of this cache. The first push enables it too.
            </p>
            {form(
              'enable',
              <button type="submit" class="btn btn-primary">
                Enable the Nix cache
              </button>,
            )}
          </div>
        );
      }
      const ownerVisibility = owner.visibility === 'private' ? 'private' : 'public';
      return (
        <div class="nix-panel" id="nix-settings">
          <p class="nix-panel-intro">
            The cache is enabled and {effective}. <a href={nixUi.cacheUrl(owner)}>Open the cache page</a> for the client setup.
          </p>

          <h3>General</h3>
          {form(
            'save',
            <>
              <div class="field">
                <label for="nix-priority">Priority</label>
                <input id="nix-priority" name="priority" type="number" min={0} max={1000} value={String(settings.priority)} class="input-short" required />
                <p class="hint">Clients try caches with a lower number first; cache.nixos.org has 40, this server's default is {DEFAULT_PRIORITY}.</p>
              </div>
              <fieldset class="field">
                <legend>Visibility</legend>
                <div class="stack nix-radios">
                  {VISIBILITIES.map(([value, label, help]) => (
                    <label class="radio-card">
                      <input type="radio" name="visibility" value={value} checked={settings.visibility === value} />
                      <span>
                        <strong>
                          {label}
                          {value === 'inherit' ? ` (now ${ownerVisibility})` : ''}
                        </strong>
                        <span class="muted small">{help}</span>
                      </span>
                    </label>
                  ))}
                </div>
              </fieldset>
              <button type="submit" class="btn btn-primary">
                Save
              </button>
            </>,
            { id: 'nix-general' },
          )}

          <h3>Storage lifecycle</h3>
          <p class="hint">
            Garbage collection runs on the server's schedule. A path stays while it is pinned, was pushed or fetched within the retention, or a path that
            stays needs it. <a href={`${nixUi.cacheUrl(owner)}/pins`}>Pins</a>
          </p>
          {form(
            'lifecycle',
            <>
              <div class="field">
                <label for="nix-retention">Retention</label>
                <input id="nix-retention" name="retention" type="text" class="input-short" placeholder="30d" value={settings.retentionMs ? formatDuration(settings.retentionMs) : ''} />
                <p class="hint">How long an unused path is kept: 90s, 12h, 30d. Empty or 0: forever.</p>
              </div>
              <div class="field">
                <label for="nix-max-size">Size limit (bytes)</label>
                <input id="nix-max-size" name="maxSize" type="number" min={0} class="input-short" value={settings.maxSize === null ? '' : String(settings.maxSize)} />
                <p class="hint">Beyond it, the least recently used paths nothing else needs go first. Empty: no limit.</p>
              </div>
              <button type="submit" class="btn btn-primary">
                Save
              </button>
            </>,
            { id: 'nix-lifecycle' },
          )}
          <GcPreview report={await nix.collection.collect(owner, { dryRun: true })} />
          {form(
            'collect',
            <button type="submit" class="btn btn-danger-outline">
              Run garbage collection now
            </button>,
            { id: 'nix-gc-run', confirm: 'Remove the paths and uploads listed above now?' },
          )}

          <h3>Signing keys</h3>
          <p class="hint">
            The active key signs every narinfo served. Retired keys still sign for clients that trust only them, until you drop them. Secret keys never
            leave the server.
          </p>
          <table class="table nix-keys" id="nix-keys">
            <thead>
              <tr>
                <th>Key</th>
                <th>Status</th>
                <th class="actions">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.map((k) => (
                <tr data-key={k.name}>
                  <td>
                    <div class="mono small">{k.name}</div>
                    <CodeBlock code={k.publicKeyText} label={`public key ${k.name}`} />
                  </td>
                  <td class="nowrap">
                    {k.active ? <span class="badge badge-green">Active</span> : <span class="badge badge-gray">Retired</span>}
                    <div class="muted small">{k.retiredAt ? <>retired <Time date={k.retiredAt} /></> : <>since <Time date={k.createdAt} /></>}</div>
                  </td>
                  <td class="actions">
                    {k.active
                      ? null
                      : form(
                          'drop',
                          <>
                            <input type="hidden" name="key" value={String(k.id)} />
                            <button type="submit" class="btn btn-small btn-danger-outline" aria-label={`Drop ${k.name}`}>
                              Drop
                            </button>
                          </>,
                          { confirm: `Drop ${k.name}? Clients that trust only this key will stop accepting this cache's paths.` },
                        )}
                  </td>
                </tr>
              ))}
              {keys.length === 0 ? (
                <tr>
                  <td colSpan={3} class="muted">
                    No key yet: one is made at the first push, or rotate to make one now.
                  </td>
                </tr>
              ) : null}
            </tbody>
          </table>
          <div class="nix-key-actions">
            {form(
              'rotate',
              <button type="submit" class="btn">
                Rotate: generate a new key
              </button>,
              { confirm: 'Generate a new signing key? Clients must trust the new public key; the old one stays until you drop it.' },
            )}
            <details class="nix-import">
              <summary class="btn">Import a secret key…</summary>
              {form(
                'import',
                <>
                  <div class="field">
                    <label for="nix-secret-key">Secret key</label>
                    <textarea id="nix-secret-key" name="secretKey" rows={2} placeholder="name:base64 (as nix key generate-secret writes it)" required></textarea>
                    <p class="hint">It becomes the active key; the current one is retired.</p>
                  </div>
                  <button type="submit" class="btn btn-primary">
                    Import key
                  </button>
                </>,
              )}
            </details>
          </div>

          <h3>Trusted uploader keys</h3>
          <p class="hint">
            Signatures that uploaders send along are kept. A signature by a key listed here must verify, or the upload is refused.
          </p>
          {trusted.length > 0 ? (
            <ul class="list list-compact nix-trusted" id="nix-trusted">
              {trusted.map((k) => (
                <li class="list-item" data-key={k.name}>
                  <span class="mono small break">{formatPublicKey(k)}</span>
                  <span class="list-item-end">
                    {form(
                      'untrust',
                      <>
                        <input type="hidden" name="name" value={k.name} />
                        <button type="submit" class="btn btn-small btn-danger-outline" aria-label={`Remove ${k.name}`}>
                          Remove
                        </button>
                      </>,
                      { confirm: `Stop trusting ${k.name}?` },
                    )}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted small">No uploader key is trusted.</p>
          )}
          {form(
            'trust',
            <>
              <div class="field">
                <label for="nix-trusted-key">Public key</label>
                <input id="nix-trusted-key" name="publicKey" type="text" placeholder="name:base64" class="mono" required />
              </div>
              <div class="field field-button">
                <button type="submit" class="btn">
                  Trust key
                </button>
              </div>
            </>,
            { class: 'inline-fields' },
          )}

          <h3>Upstream caches</h3>
          <p class="hint">
            Paths an upstream serves with a valid signature by one of its keys count as present: <code>nix copy</code> uploads only what the upstreams lack,
            and clients fetch the rest from the upstream through this cache (they must trust the upstream's key too). Pull-through also stores each
            upstream path here on its first fetch, counted in this owner's usage. Allowed on this server: {nix.upstreams.policy.describe()}.
          </p>
          {upstreams.length > 0 ? (
            <ul class="list list-compact nix-upstreams" id="nix-upstreams">
              {upstreams.map((u) => (
                <li class="list-item" data-upstream={u.url}>
                  <span>
                    <span class="mono small break">{u.url}</span> <span class="badge badge-gray">{u.mode}</span>
                    <div class="muted small mono break">{u.publicKeys.join(' ')}</div>
                  </span>
                  <span class="list-item-end">
                    {form(
                      'upstream-remove',
                      <>
                        <input type="hidden" name="url" value={u.url} />
                        <button type="submit" class="btn btn-small btn-danger-outline" aria-label={`Remove ${u.url}`}>
                          Remove
                        </button>
                      </>,
                      { confirm: `Stop using ${u.url} as an upstream? Its paths will be uploaded on the next push.` },
                    )}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <p class="muted small">No upstream: every path of a pushed closure is stored here.</p>
          )}
          {nix.upstreams.policy.enabled
            ? form(
                'upstream-add',
                <>
                  <div class="field">
                    <label for="nix-upstream-url">Upstream URL</label>
                    <input id="nix-upstream-url" name="url" type="url" value={NIXOS_CACHE} class="mono" required />
                  </div>
                  <div class="field">
                    <label for="nix-upstream-keys">Its public keys</label>
                    <input id="nix-upstream-keys" name="publicKeys" type="text" value={NIXOS_KEY} class="mono" required />
                    <p class="hint">Separated by spaces, as in trusted-public-keys.</p>
                  </div>
                  <div class="field">
                    <label for="nix-upstream-mode">Mode</label>
                    <select id="nix-upstream-mode" name="mode">
                      <option value="skip">Skip: count upstream paths as present</option>
                      <option value="pull-through">Pull-through: also store them on first fetch</option>
                    </select>
                  </div>
                  <button type="submit" class="btn">
                    Add upstream
                  </button>
                </>,
                { id: 'nix-upstream-add' },
              )
            : null}
        </div>
      );
    },

    async handlePost(req: Request, page: UiPageContext): Promise<string> {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const owner = page.owner;
      const action = String(body.action ?? '');
      const text = (name: string) => String(body[name] ?? '').trim();
      const { admin } = nix;
      switch (action) {
        case 'enable': {
          const key = await admin.enableWithKey(owner);
          return `The Nix cache is enabled; it signs with ${key.name}.`;
        }
        case 'save': {
          const priority = Number(text('priority'));
          const visibility = text('visibility') as CacheVisibility;
          if (!/^\d+$/.test(text('priority'))) throw new BadRequestError('priority must be a whole number from 0 to 1000');
          await admin.update(owner, { priority, visibility });
          return 'Nix cache settings saved.';
        }
        case 'lifecycle': {
          const retention = text('retention');
          const maxSize = text('maxSize');
          if (maxSize && !/^\d+$/.test(maxSize)) throw new BadRequestError('the size limit is a whole number of bytes, or empty for no limit');
          let retentionMs: number | null;
          try {
            retentionMs = retention ? parseDuration(retention, 'retention') || null : null;
          } catch (err) {
            throw new BadRequestError((err as Error).message);
          }
          await admin.update(owner, { retentionMs, maxSize: maxSize ? Number(maxSize) : null });
          return 'Storage lifecycle settings saved.';
        }
        case 'collect': {
          const report = await nix.collection.collect(owner, { dryRun: false });
          return `Garbage collection removed ${report.items.length} ${report.items.length === 1 ? 'item' : 'items'} (${report.bytes} bytes); the disk is freed after the blob grace period.`;
        }
        case 'rotate': {
          await admin.enable(owner);
          const key = await admin.rotateKey(owner);
          return `${key.name} is the new signing key. Clients must trust its public key.`;
        }
        case 'import': {
          const secret = text('secretKey');
          if (!secret) throw new BadRequestError('paste a secret key (name:base64, as nix key generate-secret writes it)');
          await admin.enable(owner);
          const key = await admin.importKey(owner, secret);
          return `${key.name} is the new signing key.`;
        }
        case 'drop': {
          const id = Number(text('key'));
          const key = await admin.key(owner, id);
          if (!Number.isInteger(id) || !key) throw new BadRequestError('there is no such key');
          await admin.dropKey(owner, id);
          return `${key.name} was dropped; its signatures are no longer served.`;
        }
        case 'trust': {
          const key = await admin.trustKey(owner, text('publicKey'));
          return `Signatures by ${key.name} must verify from now on.`;
        }
        case 'untrust': {
          const name = text('name');
          try {
            await admin.untrustKey(owner, name);
          } catch (err) {
            if (err instanceof NotFoundError) throw new BadRequestError(`no trusted key is named “${name}”`);
            throw err;
          }
          return `${name} is no longer trusted.`;
        }
        case 'upstream-add': {
          const current = (await nix.upstreams.list(owner.id)).map((u) => ({ url: u.url, publicKeys: u.publicKeys, mode: u.mode }));
          await admin.enable(owner);
          const added = nix.upstreams.validate([{ url: text('url'), publicKeys: text('publicKeys'), mode: text('mode') || 'skip' }])[0]!;
          if (current.some((u) => u.url === added.url)) throw new BadRequestError(`${added.url} is an upstream already`);
          await nix.upstreams.configure(owner, [...current, added]);
          return `${added.url} is an upstream of this cache (${added.mode}).`;
        }
        case 'upstream-remove': {
          const current = await nix.upstreams.list(owner.id);
          const url = text('url');
          if (!current.some((u) => u.url === url)) throw new BadRequestError(`${url} is not an upstream of this cache`);
          await nix.upstreams.configure(
            owner,
            current.filter((u) => u.url !== url).map((u) => ({ url: u.url, publicKeys: u.publicKeys, mode: u.mode })),
          );
          return `${url} is no longer an upstream.`;
        }
        default:
          throw new BadRequestError('unknown action');
      }
    },
  };
}

/** Items of the preview shown (the count and bytes cover them all). */
const PREVIEW_SHOWN = 50;

/** What the next collection would remove now (a dry run), before the button that runs it. */
function GcPreview({ report }: { report: CollectionReport }) {
  return (
    <div class="nix-gc-preview" id="nix-gc-preview">
      <p class="small">
        {report.items.length === 0 ? (
          'The next collection would remove nothing.'
        ) : (
          <>
            The next collection would remove {report.items.length} {report.items.length === 1 ? 'item' : 'items'} (<Bytes bytes={report.bytes} />):
          </>
        )}
      </p>
      {report.items.length > 0 ? (
        <ul class="list list-compact">
          {report.items.slice(0, PREVIEW_SHOWN).map((item) => (
            <li class="list-item" data-reason={item.reason}>
              <span class="mono small break">{item.storePath ?? item.file}</span>
              <span class="list-item-end muted small">
                {REASONS[item.reason]} · <Bytes bytes={item.bytes} />
              </span>
            </li>
          ))}
          {report.items.length > PREVIEW_SHOWN ? <li class="list-item muted small">… and {report.items.length - PREVIEW_SHOWN} more</li> : null}
        </ul>
      ) : null}
    </div>
  );
}

const REASONS: Record<CollectionReport['items'][number]['reason'], string> = {
  retention: 'unused beyond retention',
  'size-limit': 'over the size limit',
  'orphan-upload': 'upload without narinfo',
};
