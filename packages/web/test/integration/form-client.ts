/**
 * A tiny browser stand-in for UI integration tests: keeps cookies, does not follow
 * redirects by itself (tests look at them), and posts forms with the page's CSRF token.
 */
export class FormClient {
  readonly cookies = new Map<string, string>();

  constructor(readonly base: string) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size > 0) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const res = await fetch(this.base + path, { ...init, headers, redirect: 'manual' });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attrs.some((a) => /^\s*expires=/i.test(a) && new Date(a.split('=')[1]).getTime() < Date.now()) || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a));
      if (expired || value === '') this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return res;
  }

  get(path: string): Promise<Response> {
    return this.request(path);
  }

  /** GET, following redirects within the site; returns the final response and its HTML. */
  async page(path: string): Promise<{ res: Response; html: string; path: string }> {
    let current = path;
    for (let i = 0; i < 5; i++) {
      const res = await this.get(current);
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        current = location.startsWith('http') ? new URL(location).pathname + new URL(location).search : location;
        continue;
      }
      return { res, html: await res.text(), path: current };
    }
    throw new Error(`too many redirects from ${path}`);
  }

  /** POSTs a form (urlencoded). `csrf` undefined takes the token from `from` (a page path). */
  async post(path: string, fields: Record<string, string | string[]>, options: { csrf?: string | null; from?: string } = {}): Promise<Response> {
    const body = new URLSearchParams();
    let csrf = options.csrf;
    if (csrf === undefined) csrf = csrfToken((await this.page(options.from ?? path)).html);
    if (csrf !== null) body.append('_csrf', csrf);
    for (const [k, v] of Object.entries(fields)) for (const item of ([] as string[]).concat(v)) body.append(k, item);
    return this.request(path, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  }

  async signIn(name: string, password = `password-${name}`): Promise<Response> {
    return this.post('/user/login', { user_name: name, password });
  }
}

export function csrfToken(html: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(html);
  if (!m) throw new Error('no CSRF field on the page');
  return m[1];
}
