/**
 * Helpers for the Nix UI integration tests: a tiny browser stand-in that keeps cookies and
 * posts forms with the page's CSRF token (no redirects followed unless asked).
 */
import { expect } from 'vitest';

export class Browser {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(this.base + path, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*max-age=0\s*$/i.test(a)) || attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]!).getTime() < Date.now());
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  /** GET following redirects within the site: the final response, its HTML and path. */
  async page(path: string): Promise<{ status: number; html: string; path: string; res: Response }> {
    let current = path;
    for (let i = 0; i < 5; i++) {
      const res = await this.request(current);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        current = location.startsWith('http') ? new URL(location).pathname + new URL(location).search : location;
        continue;
      }
      return { status: res.status, html: await res.text(), path: current, res };
    }
    throw new Error(`too many redirects from ${path}`);
  }

  /** POSTs a form; `csrf: undefined` takes the token from the page `from` (default: the target). */
  async post(path: string, fields: Record<string, string>, options: { csrf?: string | null; from?: string } = {}): Promise<Response> {
    let csrf = options.csrf;
    if (csrf === undefined) csrf = csrfToken((await this.page(options.from ?? path)).html);
    const body = new URLSearchParams();
    if (csrf !== null) body.append('_csrf', csrf);
    for (const [k, v] of Object.entries(fields)) body.append(k, v);
    return this.request(path, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  async signIn(name: string): Promise<void> {
    const res = await this.post('/user/login', { user_name: name, password: `password-${name}` });
    expect(res.status, await res.clone().text()).toBe(303);
  }

  /** The one-time notice a redirect carried, as shown on the page it leads to. */
  async follow(res: Response): Promise<{ html: string; path: string }> {
    expect(res.status, await res.clone().text()).toBe(303);
    const { html, path } = await this.page(res.headers.get('location')!);
    return { html, path };
  }
}

export function csrfToken(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF field on the page');
  return m[1]!;
}

/** Text of the page without tags (entities decoded), for loose assertions. */
export function textOf(html: string): string {
  return html
    .replace(/<[^>]*>/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ');
}

/** The inner text of the element with this id (first match; no nesting of the same tag assumed). */
export function section(html: string, id: string): string {
  const start = html.indexOf(`id="${id}"`);
  if (start < 0) throw new Error(`no element #${id} on the page`);
  const open = html.lastIndexOf('<', start);
  const tag = /^<([a-z0-9]+)/.exec(html.slice(open))![1]!;
  let depth = 0;
  const re = new RegExp(`<(/?)${tag}\\b[^>]*>`, 'g');
  re.lastIndex = open;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    depth += m[1] ? -1 : 1;
    if (depth === 0) return html.slice(open, m.index + m[0].length);
  }
  return html.slice(open);
}
