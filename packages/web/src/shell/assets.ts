import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import express, { type Router } from 'express';
import type { AssetUrls } from './layout.js';

/** The UI's own files (packages/web/assets), the same from src/ and dist/. */
const ASSET_DIR = new URL('../../assets/', import.meta.url);

interface Asset {
  body: Buffer;
  type: string;
}

/**
 * The stylesheet, script and icon, served by the server itself (no CDN). Each is
 * addressed by a hash of its content (`/assets/forge.3f2a9c1e.css`), so it can be cached
 * for a year; a new build changes the address. Modules' CSS and JS are appended to the
 * host's, so a page loads one stylesheet and one script.
 */
export class Assets {
  readonly urls: AssetUrls;
  readonly #byPath = new Map<string, Asset>();

  constructor(extra: { css: string[]; js: string[] }) {
    const read = (name: string) => readFileSync(new URL(name, ASSET_DIR));
    const css = Buffer.concat([read('forge.css'), ...extra.css.map((s) => Buffer.from('\n' + s + '\n'))]);
    const js = Buffer.concat([read('forge.js'), ...extra.js.map((s) => Buffer.from('\n;' + s + '\n'))]);
    this.urls = {
      css: this.add('forge', 'css', css, 'text/css; charset=utf-8'),
      js: this.add('forge', 'js', js, 'text/javascript; charset=utf-8'),
      icon: this.add('favicon', 'svg', read('favicon.svg'), 'image/svg+xml'),
    };
  }

  private add(base: string, ext: string, body: Buffer, type: string): string {
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
    const name = `${base}.${hash}.${ext}`;
    this.#byPath.set(name, { body, type });
    return `/assets/${name}`;
  }

  router(): Router {
    const router = express.Router();
    router.get('/assets/:file', (req, res, next) => {
      const asset = this.#byPath.get(String(req.params.file));
      if (!asset) return next();
      res.setHeader('Content-Type', asset.type);
      res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.send(asset.body);
    });
    // Browsers ask for /favicon.ico whatever the page says.
    router.get('/favicon.ico', (_req, res) => {
      res.setHeader('Cache-Control', 'public, max-age=86400');
      res.redirect(301, this.urls.icon);
    });
    return router;
  }
}
