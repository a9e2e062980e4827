/**
 * The UI kit: the small components every page is made of, in the host's CSS vocabulary
 * (docs/ui.md). The host's shell and every module's pages use these (modules reach the
 * host only through this package), so a code block or a byte count looks the same on
 * every page. Every value reaches the page as preact text or an attribute value, so it is
 * escaped: names, paths and logs shown here are attacker-controlled.
 */
import type { ComponentChildren } from 'preact';
import { formatBytes, formatDateTime, timeAgo } from './ui-format.js';

/** The hidden field every POST form carries (the host checks it before any handler runs). */
export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

/** A date as "3 days ago", exact in the tooltip. */
export function Time({ date, now }: { date: Date; now?: number }) {
  return (
    <time datetime={date.toISOString()} title={formatDateTime(date)}>
      {timeAgo(date, now)}
    </time>
  );
}

/** A byte count as `1.5 KiB`, exact in the tooltip. */
export function Bytes({ bytes }: { bytes: number }) {
  return <span title={`${bytes.toLocaleString('en')} bytes`}>{formatBytes(bytes)}</span>;
}

/** A command or snippet with a copy button (the button works when JavaScript runs). */
export function CodeBlock({ code, label, id }: { code: string; label?: string; id?: string }) {
  return (
    <div class="code-block" id={id}>
      <pre>
        <code>{code}</code>
      </pre>
      <button type="button" class="btn btn-small btn-copy" data-copy={code} aria-label={label ? `Copy ${label}` : 'Copy'}>
        Copy
      </button>
    </div>
  );
}

export function Notice({ kind, children }: { kind: 'success' | 'error' | 'info' | 'warning'; children: ComponentChildren }) {
  return (
    <div class={`notice notice-${kind}`} role={kind === 'error' ? 'alert' : 'status'}>
      {children}
    </div>
  );
}

/** What a list or a card shows when it has nothing to show. */
export function EmptyState({ title, children }: { title: string; children?: ComponentChildren }) {
  return (
    <div class="empty">
      <p class="empty-title">{title}</p>
      {children}
    </div>
  );
}

/** A titled card; `flush` puts tables and lists edge to edge instead of in a padded body. */
export function Card({ title, end, children, id, flush }: { title: ComponentChildren; end?: ComponentChildren; children: ComponentChildren; id?: string; flush?: boolean }) {
  return (
    <section class="card" id={id}>
      <div class="card-header">
        <h2>{title}</h2>
        {end ?? null}
      </div>
      {flush ? children : <div class="card-body">{children}</div>}
    </section>
  );
}
