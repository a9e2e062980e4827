/**
 * The Nix pages' own CSS, appended to the host's stylesheet (the CSP allows no inline
 * styles). Built on the host's variables and vocabulary (docs/ui.md); every class is
 * prefixed `nix-`.
 */
export const NIX_UI_CSS = `
.nix-stats { display: grid; grid-template-columns: repeat(5, minmax(0, 1fr)); gap: 12px; margin-bottom: 16px; }
.nix-stat {
  background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
  box-shadow: var(--shadow); padding: 12px 16px; min-width: 0;
}
.nix-stat-label { font-size: 12px; color: var(--muted); font-weight: 600; }
.nix-stat-value { font-size: 22px; font-weight: 600; line-height: 1.3; margin-top: 2px; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.nix-stat-note { font-size: 12px; color: var(--muted); }
@media (max-width: 960px) { .nix-stats { grid-template-columns: repeat(2, minmax(0, 1fr)); } }

.nix-setup h3 { margin: 20px 0 4px; font-size: 13px; }
.nix-setup h3:first-child { margin-top: 0; }
.nix-setup .hint { margin-bottom: 8px; }
.nix-setup .code-block { margin-bottom: 4px; }
.nix-setup h3 code { background: none; border: 0; padding: 0; font-size: 13px; }
.nix-wrap pre { white-space: pre-wrap; word-break: break-all; }
.kv + .hint { margin-top: 12px; }
.nix-search { display: flex; gap: 8px; }
.nix-search input { flex: 1; min-width: 0; }

.nix-icon { width: 16px; height: 16px; flex: none; fill: none; stroke: var(--muted); stroke-width: 1.3; stroke-linejoin: round; stroke-linecap: round; vertical-align: -3px; }
.nix-icon-folder { fill: #c9ddf2; stroke: var(--accent); }
.nix-icon-exec { stroke: var(--green); }
.nix-icon-link { stroke: #8250df; }
.nix-recent .list-item { flex-wrap: nowrap; }
.nix-recent-name { min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }

.nix-paths .nix-path-name { font-weight: 600; overflow-wrap: anywhere; }
.nix-paths .nix-hash { margin-top: 1px; }
.nix-paths td.nowrap, .nowrap { white-space: nowrap; }

.nix-narinfo { margin-top: 12px; }
#references .empty, #referrers .empty { padding: 18px 16px; }
#references .empty-title, #referrers .empty-title { font-size: 14px; margin-bottom: 2px; }
.nix-narinfo dt { font-family: var(--mono); font-size: 12.5px; }
.nix-raw { margin-top: 14px; }
.nix-raw summary { cursor: pointer; color: var(--accent); margin-bottom: 8px; }

.nix-tree .nix-mode { width: 1%; white-space: nowrap; color: var(--muted); }
.nix-tree .nix-entry { overflow-wrap: anywhere; }
.nix-tree .nix-entry > a { margin-left: 6px; }
.nix-tree .nix-exec { color: var(--green); font-weight: 600; }
.nix-tree .nix-x { margin-left: 6px; }
.nix-tree .nix-target { overflow-wrap: anywhere; }
.nix-tree .nix-up { font-family: var(--mono); margin-left: 22px; }

.nix-crumbs {
  background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius);
  padding: 8px 12px; margin-bottom: 16px; overflow-wrap: anywhere; font-size: 13px;
}
.nix-crumbs .crumb-sep { margin: 0 4px; }
.nix-file-note { padding: 8px 16px; background: var(--yellow-soft); border-bottom: 1px solid var(--border); font-size: 12px; }
.nix-code, .nix-log, .nix-hex {
  margin: 0; padding: 10px 0; overflow-x: auto; font-size: 12.5px; line-height: 1.55; background: var(--surface);
}
.nix-code code { counter-reset: line; display: block; }
.nix-code .line { display: block; padding: 0 16px 0 0; white-space: pre; min-height: 1.55em; }
.nix-code .line::before {
  counter-increment: line; content: counter(line); display: inline-block; width: 4.5em; padding-right: 1em; margin-right: 0.5em;
  text-align: right; color: #9aa4ae; border-right: 1px solid var(--border); user-select: none;
}
.nix-code .line:hover { background: var(--yellow-soft); }
.nix-log { padding: 12px 16px; white-space: pre-wrap; word-break: break-word; background: #1f2328; color: #e6edf3; }
.nix-hex { padding: 12px 16px; margin-top: 12px; background: var(--surface-alt); border: 1px solid var(--border); border-radius: var(--radius); }
#file-view .badges { align-items: center; }
#file-view .card-header h2 { display: flex; align-items: center; gap: 6px; overflow-wrap: anywhere; }
#log-view .card-header h2 { font-weight: 500; }

.nix-narrow { max-width: 760px; }
.nix-dependents { border: 1px solid var(--border); border-radius: var(--radius); margin-bottom: 14px; max-height: 320px; overflow-y: auto; }
.nix-actions { display: flex; gap: 8px; }
.nix-danger { border-color: #f5a3a8; }
.nix-danger .card-header { background: var(--red-soft); }
.nix-danger .card-header h2 { color: var(--red); }
.nix-empty-snippet { max-width: 640px; margin: 12px auto 0; text-align: left; }

.nix-panel h3 { margin: 22px 0 6px; padding-top: 16px; border-top: 1px solid var(--border); }
.nix-panel-intro { margin-bottom: 0; }
.nix-panel .nix-radios { max-width: 560px; }
.nix-panel input[type='number'] {
  font: inherit; color: var(--text); background: var(--surface); padding: 6px 10px; width: 120px;
  border: 1px solid var(--border-strong); border-radius: var(--radius); min-height: 34px;
}
.nix-panel .hint + .list, .nix-panel .hint + .muted { margin-top: 8px; }
.nix-keys { border: 1px solid var(--border); border-radius: var(--radius); border-collapse: separate; border-spacing: 0; margin: 8px 0 12px; }
.nix-keys .code-block { margin: 4px 0 0; }
.nix-keys td { vertical-align: top; }
.nix-key-actions { display: flex; gap: 8px; align-items: flex-start; flex-wrap: wrap; }
.nix-import { flex: 1 1 320px; }
.nix-import > summary { list-style: none; display: inline-flex; }
.nix-import > summary::-webkit-details-marker { display: none; }
.nix-import[open] > summary { margin-bottom: 10px; }
.nix-import form { padding: 12px; border: 1px solid var(--border); border-radius: var(--radius); background: var(--surface-alt); }
.nix-trusted { border: 1px solid var(--border); border-radius: var(--radius); margin: 8px 0 12px; }
`;
