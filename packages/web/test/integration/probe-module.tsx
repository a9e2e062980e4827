import { BadRequestError, MODULE_API_VERSION, NotFoundError, type PackageTypeModule, type UiPageContext, type Visibility } from '@forge/core';

/**
 * A package type that uses every part of the UI seam, the way the Nix module will: a page
 * under `/{owner}/-/packages/probe/-/…`, a settings panel, an owner tab, a version view
 * and CSS. It records what the host handed it.
 */
export interface ProbeRecord {
  posts: Array<{ owner: string; body: Record<string, unknown>; canAdmin: boolean }>;
  /** Owners whose probe namespace is public although the owner is private. */
  publicNamespaces: Set<string>;
}

export function probeModule(record: ProbeRecord): PackageTypeModule {
  return {
    id: 'probe',
    apiVersion: MODULE_API_VERSION,
    displayName: 'Probe',
    register(ctx) {
      const visibility = (owner: { lowerName: string; visibility: Visibility }): Visibility =>
        record.publicNamespaces.has(owner.lowerName) ? 'public' : owner.visibility;

      ctx.ui.pages((router, helpers) => {
        router.get('/overview', async (req, res) => {
          const page = await helpers.context(req, { visibility });
          await helpers.render(res, page, {
            title: 'Probe overview',
            trail: [['Probe', '']],
            body: (
              <section class="card" id="probe-overview">
                <div class="card-body">
                  <p>Probe overview of {page.owner.name}</p>
                  <p id="probe-flags">
                    write={String(page.canWrite)} admin={String(page.canAdmin)} via={page.actor.via}
                  </p>
                  {page.canWrite ? (
                    <form method="post" action={`/${page.owner.name}/-/packages/probe/-/action`}>
                      <input type="hidden" name="_csrf" value={page.csrfToken} />
                      <button type="submit">Do it</button>
                    </form>
                  ) : null}
                </div>
              </section>
            ),
          });
        });
        router.post('/action', async (req, res) => {
          const page = await helpers.context(req);
          helpers.verifyCsrf(req);
          if (!page.canWrite) throw new NotFoundError();
          record.posts.push({ owner: page.owner.name, body: { ...req.body }, canAdmin: page.canAdmin });
          helpers.redirect(res, `/${page.owner.name}/-/packages/probe/-/overview`, 'Probe action done.');
        });
        router.get('/broken', () => {
          throw new Error('probe page exploded');
        });
      });

      ctx.ui.settingsPanel({
        render: ({ ctx: page, actionUrl }) => (
          <form method="post" action={actionUrl} id="probe-settings">
            <input type="hidden" name="_csrf" value={page.csrfToken} />
            <input type="text" name="setting" />
            <button type="submit">Save probe</button>
          </form>
        ),
        async handlePost(req, page: UiPageContext) {
          const body = req.body as Record<string, unknown>;
          if (body.setting === 'bad') throw new BadRequestError('the probe setting is bad');
          record.posts.push({ owner: page.owner.name, body: { ...body }, canAdmin: page.canAdmin });
          return `Probe saved: ${String(body.setting)}`;
        },
      });

      ctx.ui.ownerTab({
        label: 'Probe tab',
        href: (page) => (page.owner.name.startsWith('tab') ? `/${page.owner.name}/-/packages/probe/-/overview` : null),
      });

      ctx.ui.assets({ css: '.probe-marker { color: rebeccapurple; }' });
    },
  };
}
