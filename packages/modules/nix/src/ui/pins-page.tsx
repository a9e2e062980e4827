import type { Request, Response } from 'express';
import { BadRequestError, Card, CsrfField, EmptyState, ForbiddenError, Time, type UiHelpers, type UiPageContext } from '@forge/core';
import type { PinView } from '../cache/index.js';
import type { NixUi } from './nix-ui.js';

/**
 * Pins in the UI (docs/garbage-collection.md): `…/cache/pins` lists them with their
 * history; a store path's page says which pins hold it and pins or unpins it
 * (`…/paths/{hash}/pin`, `…/cache/pins/unpin`; POST, CSRF-checked by the host, writers only).
 */
export function pinsPages(nixUi: NixUi, ui: UiHelpers) {
  const { nix } = nixUi;
  const writer = (page: UiPageContext) => {
    if (!page.canWrite) throw new ForbiddenError(`you may read ${page.owner.name}'s cache, but not pin or unpin in it`);
  };
  const field = (req: Request, name: string) => String((req.body as Record<string, unknown> | undefined)?.[name] ?? '').trim();

  return {
    list: async (req: Request, res: Response) => {
      const { page } = await nixUi.cache(ui, req);
      const owner = page.owner;
      const pins = await nix.pins.list(owner);
      await ui.render(res, page, {
        title: `Pins · Nix cache · ${owner.name}`,
        trail: [
          ['Nix cache', nixUi.cacheUrl(owner)],
          ['Pins', ''],
        ],
        body: (
          <Card title={`Pins (${pins.length})`} flush id="pins">
            {pins.length === 0 ? (
              <EmptyState title="No pins">
                A pin keeps a store path and its closure through every garbage collection. Pin a path from its page, or with{' '}
                <code>PUT /api/packages/{owner.name}/nix/-/pins/NAME</code>.
              </EmptyState>
            ) : (
              <ul class="list nix-pins">
                {pins.map((pin) => (
                  <PinItem pin={pin} nixUi={nixUi} page={page} />
                ))}
              </ul>
            )}
          </Card>
        ),
      });
    },

    pin: async (req: Request, res: Response) => {
      const { page, path } = await nixUi.path(ui, req);
      writer(page);
      const name = field(req, 'name');
      if (!name) throw new BadRequestError('name the pin (a release, a channel: v1.2, stable)');
      const { created } = await nix.pins.put(page.owner, name, `/nix/store/${path.hashPart}-${path.name}`, page.actor.user?.id ?? null);
      ui.redirect(res, nixUi.pathUrl(page.owner, path.hashPart), created ? `Pinned as “${name}”.` : `The pin “${name}” now holds this path.`);
    },

    unpin: async (req: Request, res: Response) => {
      const { page } = await nixUi.cache(ui, req);
      writer(page);
      const name = field(req, 'name');
      await nix.pins.delete(page.owner, name);
      const back = field(req, 'back');
      // Back to the path page it came from, or the pins list (only this cache's pages).
      const to = /^[0-9a-df-np-sv-z]{32}$/.test(back) ? nixUi.pathUrl(page.owner, back) : `${nixUi.cacheUrl(page.owner)}/pins`;
      ui.redirect(res, to, `Unpinned “${name}”: the next garbage collection may take the path if nothing else keeps it.`);
    },
  };
}

function PinItem({ pin, nixUi, page, back }: { pin: PinView; nixUi: NixUi; page: UiPageContext; back?: string }) {
  const hashPart = pin.storePath.slice(0, 32);
  return (
    <li class="list-item nix-pin" data-pin={pin.name}>
      <div class="stack">
        <strong>{pin.name}</strong>
        <a class="mono small break" href={nixUi.pathUrl(page.owner, hashPart)}>
          /nix/store/{pin.storePath}
        </a>
        {pin.history.length > 1 ? (
          <details class="small">
            <summary>History ({pin.history.length})</summary>
            <ul class="list list-compact">
              {pin.history.map((h) => (
                <li class="list-item">
                  <span class="mono break">/nix/store/{h.storePath}</span>{' '}
                  <span class="muted">
                    <Time date={h.pinnedAt} />
                  </span>
                </li>
              ))}
            </ul>
          </details>
        ) : null}
      </div>
      {page.canWrite ? (
        <span class="list-item-end">
          <UnpinForm nixUi={nixUi} page={page} name={pin.name} back={back} />
        </span>
      ) : null}
    </li>
  );
}

function UnpinForm({ nixUi, page, name, back }: { nixUi: NixUi; page: UiPageContext; name: string; back?: string }) {
  return (
    <form method="post" action={`${nixUi.cacheUrl(page.owner)}/pins/unpin`} data-confirm={`Unpin “${name}”?`}>
      <CsrfField token={page.csrfToken} />
      <input type="hidden" name="name" value={name} />
      {back ? <input type="hidden" name="back" value={back} /> : null}
      <button type="submit" class="btn btn-small btn-danger-outline" aria-label={`Unpin ${name}`}>
        Unpin
      </button>
    </form>
  );
}

/** The path page's card: which pins hold the path, unpin, and a form to pin it. */
export function PinsCard({ nixUi, page, hashPart, pins }: { nixUi: NixUi; page: UiPageContext; hashPart: string; pins: string[] }) {
  return (
    <Card title="Pins" id="path-pins">
      {pins.length > 0 ? (
        <>
          <p class="small">
            Pinned by {pins.map((n, i) => (
              <>
                {i > 0 ? ', ' : ''}
                <strong>{n}</strong>
              </>
            ))}
            : garbage collection keeps it and its closure.
          </p>
          {page.canWrite ? (
            <div class="stack">
              {pins.map((name) => (
                <UnpinForm nixUi={nixUi} page={page} name={name} back={hashPart} />
              ))}
            </div>
          ) : null}
        </>
      ) : (
        <p class="muted small">Not pinned: garbage collection takes it once unused for the cache's retention, unless a kept path needs it.</p>
      )}
      {page.canWrite ? (
        <form method="post" action={`${nixUi.pathUrl(page.owner, hashPart)}/pin`} class="inline-fields">
          <CsrfField token={page.csrfToken} />
          <div class="field">
            <label for="pin-name">Pin as</label>
            <input id="pin-name" name="name" type="text" placeholder="v1.2.0, stable" required maxLength={100} />
          </div>
          <div class="field field-button">
            <button type="submit" class="btn">
              Pin
            </button>
          </div>
        </form>
      ) : null}
      <p class="hint">
        <a href={`${nixUi.cacheUrl(page.owner)}/pins`}>All pins of this cache</a>
      </p>
    </Card>
  );
}
