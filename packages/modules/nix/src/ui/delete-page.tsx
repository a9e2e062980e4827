import type { Request, Response } from 'express';
import { Card, ConflictError, CsrfField, ForbiddenError, Notice, type UiHelpers } from '@forge/core';
import { Icon } from './icon.js';
import type { NixUi, PathPage } from './nix-ui.js';

const DEPENDENTS_SHOWN = 50;

async function writable(nixUi: NixUi, ui: UiHelpers, req: Request): Promise<PathPage> {
  const found = await nixUi.path(ui, req);
  if (!found.page.canWrite) throw new ForbiddenError(`you may read ${found.page.owner.name}'s cache, but not delete from it`);
  return found;
}

/**
 * `…/paths/{hash}/delete`: the confirmation step (GET) and the deletion (POST, CSRF-checked
 * by the host, writers only). A path other paths depend on is refused unless the form says
 * to delete them too (`recursive=1`): a narinfo is never left with references that are gone.
 */
export function deletePages(nixUi: NixUi, ui: UiHelpers) {
  async function confirmation(req: Request, res: Response, found: PathPage, error?: string) {
    const { page, path } = found;
    const owner = page.owner;
    const dependents = await nixUi.nix.paths.dependents(owner.id, path.hashPart, 10_000);
    const storePath = `/nix/store/${path.hashPart}-${path.name}`;
    const action = `${nixUi.pathUrl(owner, path.hashPart)}/delete`;
    await ui.render(
      res,
      page,
      {
        title: `Delete ${path.name} · Nix cache · ${owner.name}`,
        trail: [
          ['Nix cache', nixUi.cacheUrl(owner)],
          ['Store paths', nixUi.pathsUrl(owner)],
          [path.name, nixUi.pathUrl(owner, path.hashPart)],
          ['Delete', ''],
        ],
        body: (
          <div class="nix-narrow">
            {error ? <Notice kind="error">{error}</Notice> : null}
            <Card title="Delete a store path" id="delete">
              <p>
                This removes <code class="break">{storePath}</code> from the cache: its narinfo, and its NAR unless another path uses it.
                Clients that already fetched it keep their copy.
              </p>
              {dependents.length > 0 ? (
                <>
                  <Notice kind="warning">
                    {dependents.length === 1 ? '1 other store path depends' : `${dependents.length.toLocaleString('en')} other store paths depend`} on it. A cache
                    never serves a path whose references are gone, so {dependents.length === 1 ? 'it goes' : 'they go'} too, or nothing does.
                  </Notice>
                  <ul class="list list-compact nix-dependents" id="dependents">
                    {dependents.slice(0, DEPENDENTS_SHOWN).map((d) => (
                      <li class="list-item">
                        <Icon name="package" />
                        <a class="mono small break" href={nixUi.pathUrl(owner, d.hashPart)}>
                          {d.hashPart}-{d.name}
                        </a>
                      </li>
                    ))}
                    {dependents.length > DEPENDENTS_SHOWN ? <li class="list-item muted small">… and {dependents.length - DEPENDENTS_SHOWN} more</li> : null}
                  </ul>
                </>
              ) : null}
              <form method="post" action={action} class="stack">
                <CsrfField token={page.csrfToken} />
                {dependents.length > 0 ? (
                  <label class="checkbox">
                    <input type="checkbox" name="recursive" value="1" />
                    <span>
                      Also delete the {dependents.length === 1 ? 'path that depends' : `${dependents.length.toLocaleString('en')} paths that depend`} on it
                    </span>
                  </label>
                ) : null}
                <div class="nix-actions">
                  <button type="submit" class="btn btn-danger">
                    {dependents.length > 0 ? 'Delete' : 'Delete store path'}
                  </button>
                  <a class="btn" href={nixUi.pathUrl(owner, path.hashPart)}>
                    Cancel
                  </a>
                </div>
              </form>
            </Card>
          </div>
        ),
      },
      error ? 409 : 200,
    );
  }

  return {
    get: async (req: Request, res: Response) => confirmation(req, res, await writable(nixUi, ui, req)),
    post: async (req: Request, res: Response) => {
      const found = await writable(nixUi, ui, req);
      const { page, path } = found;
      const withDependents = String((req.body as Record<string, unknown> | undefined)?.recursive ?? '') === '1';
      let deleted;
      try {
        deleted = await nixUi.nix.deletion.delete(page.owner, [path.hashPart], { withDependents });
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        return confirmation(
          req,
          res,
          found,
          'Nothing was deleted: other store paths depend on this one. Tick the box to delete them too, or delete them first.',
        );
      }
      const others = deleted.length - 1;
      ui.redirect(
        res,
        nixUi.pathsUrl(page.owner),
        `Deleted /nix/store/${path.hashPart}-${path.name}${others > 0 ? ` and ${others} ${others === 1 ? 'path' : 'paths'} that depended on it` : ''}.`,
      );
    },
  };
}
