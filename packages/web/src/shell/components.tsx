import type { ComponentChildren } from 'preact';
import { CsrfField, type Owner } from '@forge/core';
import { query } from './format.js';

// The UI kit shared with the modules' pages lives in @forge/core; the shell's pages import it from here.
export { Bytes, CodeBlock, CsrfField, EmptyState, Notice, Time } from '@forge/core';

/** A POST form with its CSRF field; `confirm` asks before submitting when JavaScript runs. */
export function PostForm(props: { action: string; csrf: string; confirm?: string; class?: string; children: ComponentChildren }) {
  return (
    <form method="post" action={props.action} class={props.class} data-confirm={props.confirm}>
      <CsrfField token={props.csrf} />
      {props.children}
    </form>
  );
}

/** A square with the owner's initial; the colour is derived from the name. */
export function Avatar({ name, size = 'md' }: { name: string; size?: 'sm' | 'md' | 'lg' }) {
  let hash = 0;
  for (const c of name.toLowerCase()) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return (
    <span class={`avatar avatar-${size} avatar-c${hash % 8}`} aria-hidden="true">
      {name.slice(0, 1).toUpperCase()}
    </span>
  );
}

export function VisibilityBadge({ owner }: { owner: Owner }) {
  return owner.visibility === 'private' ? <span class="badge badge-gray">Private</span> : null;
}

/**
 * Page links for a list: first, previous, a window of pages, next, last. `params` are kept
 * in every link (the current filters).
 */
export function Pagination(props: { path: string; page: number; pageSize: number; total: number; params?: Record<string, string | undefined> }) {
  const pages = Math.max(1, Math.ceil(props.total / props.pageSize));
  if (pages <= 1) return null;
  const link = (page: number) => props.path + query({ ...props.params, page: page === 1 ? undefined : page });
  const windowStart = Math.max(1, Math.min(props.page - 2, pages - 4));
  const windowEnd = Math.min(pages, windowStart + 4);
  const items: ComponentChildren[] = [];
  for (let p = windowStart; p <= windowEnd; p++) {
    items.push(
      p === props.page ? (
        <span class="page current" aria-current="page">
          {p}
        </span>
      ) : (
        <a class="page" href={link(p)}>
          {p}
        </a>
      ),
    );
  }
  return (
    <nav class="pagination" aria-label="Pages">
      {props.page > 1 ? (
        <a class="page" href={link(props.page - 1)} rel="prev">
          ‹ Previous
        </a>
      ) : (
        <span class="page disabled">‹ Previous</span>
      )}
      {windowStart > 1 ? <a class="page" href={link(1)}>1</a> : null}
      {windowStart > 2 ? <span class="page gap">…</span> : null}
      {items}
      {windowEnd < pages - 1 ? <span class="page gap">…</span> : null}
      {windowEnd < pages ? <a class="page" href={link(pages)}>{pages}</a> : null}
      {props.page < pages ? (
        <a class="page" href={link(props.page + 1)} rel="next">
          Next ›
        </a>
      ) : (
        <span class="page disabled">Next ›</span>
      )}
    </nav>
  );
}

/** A labelled form field. */
export function Field(props: { label: string; for: string; hint?: ComponentChildren; children: ComponentChildren }) {
  return (
    <div class="field">
      <label for={props.for}>{props.label}</label>
      {props.children}
      {props.hint ? <p class="hint">{props.hint}</p> : null}
    </div>
  );
}

/** Page number from `?page=`, at least 1. */
export function pageParam(value: unknown): number {
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 1 ? Math.min(n, 1_000_000) : 1;
}
