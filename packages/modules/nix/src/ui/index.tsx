/**
 * The Nix cache in the web UI, through the host's seam (docs/ui.md):
 *
 *   /{owner}/-/packages/nix/-/cache                          how to use the cache, figures, recent pushes
 *   /{owner}/-/packages/nix/-/cache/paths                    store paths: ?q= ?sort= ?after= ?before=
 *   /{owner}/-/packages/nix/-/cache/paths/{hash}             one store path
 *   /{owner}/-/packages/nix/-/cache/paths/{hash}/files/…     its files (directories, text, hex)
 *   /{owner}/-/packages/nix/-/cache/paths/{hash}/nar         the NAR file
 *   /{owner}/-/packages/nix/-/cache/paths/{hash}/log[/raw]   its build log
 *   /{owner}/-/packages/nix/-/cache/paths/{hash}/delete      confirmation (GET), deletion (POST)
 *   /{owner}/-/packages/nix/-/cache/paths/{hash}/pin         pin it (POST)
 *   /{owner}/-/packages/nix/-/cache/pins[/unpin]             pins with their history; unpin (POST)
 *
 * plus an owner tab, the version view of nix packages and a settings panel. Every page
 * reads with the cache's visibility (which may differ from the owner's): 404 otherwise.
 */
import type { ModuleContext } from '@forge/core';
import type { NixCache } from '../cache/index.js';
import { cacheOverview } from './cache-page.js';
import { deletePages } from './delete-page.js';
import { filesPage, logDownload, logPage, narDownload } from './files-page.js';
import { NixUi } from './nix-ui.js';
import { pathPage } from './path-page.js';
import { pathsPage } from './paths-page.js';
import { pinsPages } from './pins-page.js';
import { nixSettingsPanel } from './settings-panel.js';
import { NIX_UI_CSS } from './styles.js';
import { nixVersionView } from './version-view.js';

export function registerNixUi(ctx: ModuleContext, nix: NixCache): void {
  const nixUi = new NixUi(ctx, nix);
  const { ui } = ctx;

  ui.pages((router, helpers) => {
    router.get('/cache', cacheOverview(nixUi, helpers));
    router.get('/cache/paths', pathsPage(nixUi, helpers));
    router.get('/cache/paths/:hash', pathPage(nixUi, helpers));
    router.use('/cache/paths/:hash/files', filesPage(nixUi, helpers));
    router.get('/cache/paths/:hash/nar', narDownload(nixUi, helpers));
    router.get('/cache/paths/:hash/log', logPage(nixUi, helpers));
    router.get('/cache/paths/:hash/log/raw', logDownload(nixUi, helpers));
    const del = deletePages(nixUi, helpers);
    router.get('/cache/paths/:hash/delete', del.get);
    router.post('/cache/paths/:hash/delete', del.post);
    const pins = pinsPages(nixUi, helpers);
    router.get('/cache/pins', pins.list);
    router.post('/cache/pins/unpin', pins.unpin);
    router.post('/cache/paths/:hash/pin', pins.pin);
  });

  ui.ownerTab({
    label: 'Nix cache',
    href: async (page) => {
      const { settings } = await nix.access.describe(page.owner);
      if (!settings) return null;
      return (await nixUi.canRead(page.actor, page.owner)) ? nixUi.cacheUrl(page.owner) : null;
    },
  });

  ui.versionView(nixVersionView(nixUi));
  ui.settingsPanel(nixSettingsPanel(nixUi));
  ui.assets({ css: NIX_UI_CSS });
}
