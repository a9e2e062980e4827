import type { Request, Response } from 'express';

/** Gitea's `DEFAULT_PAGING_NUM`: a list's page size when the request names none. */
export const DEFAULT_PAGE_SIZE = 30;
/** Gitea's `MAX_RESPONSE_ITEMS`: the largest page a list answers, whatever `limit` asks. */
export const MAX_PAGE_SIZE = 50;
/** Bounds the offset so it stays an integer PostgreSQL accepts (page=1e300 is this page). */
const MAX_PAGE = 1_000_000;

export interface Page {
  page: number;
  limit: number;
  offset: number;
}

/**
 * `page` (1-based) and `limit` as Gitea reads them: a missing, zero, negative or
 * non-numeric value is the default, and `limit` is capped at {@link MAX_PAGE_SIZE}.
 */
export function pageOf(req: Request): Page {
  const int = (v: unknown) => Math.trunc(Number(typeof v === 'string' ? v : NaN)) || 0;
  const page = Math.min(Math.max(int(req.query.page), 1), MAX_PAGE);
  const asked = int(req.query.limit);
  const limit = asked <= 0 ? DEFAULT_PAGE_SIZE : Math.min(asked, MAX_PAGE_SIZE);
  return { page, limit, offset: (page - 1) * limit };
}

/**
 * `X-Total-Count` and `Link` (next, last, first, prev, in Gitea's order and spelling:
 * absolute URLs on the public base URL, the request's query with `page` replaced), both
 * exposed to scripts in browsers.
 */
export function setPageHeaders(req: Request, res: Response, baseUrl: string, page: Page, total: number): void {
  res.setHeader('X-Total-Count', String(total));
  const pages = Math.max(1, Math.ceil(total / page.limit));
  const link = (n: number, rel: string) => {
    const url = new URL(req.originalUrl, 'http://x');
    url.searchParams.set('page', String(n));
    return `<${baseUrl}${url.pathname}${url.search}>; rel="${rel}"`;
  };
  // Gitea's paginator treats a page beyond the last as the last.
  const current = Math.min(page.page, pages);
  const links: string[] = [];
  if (current < pages) links.push(link(current + 1, 'next'), link(pages, 'last'));
  if (current > 1) links.push(link(1, 'first'), link(current - 1, 'prev'));
  if (links.length > 0) res.setHeader('Link', links.join(','));
  res.setHeader('Access-Control-Expose-Headers', 'X-Total-Count, Link');
}
