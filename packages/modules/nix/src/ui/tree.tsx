import { Bytes, type Owner } from '@forge/core';
import type { ListingEntry } from '../format/index.js';
import { Icon } from './icon.js';
import { encodeNarPath } from './format.js';
import type { NixUi } from './nix-ui.js';

/** `ls -l`'s first column, as `nix store ls -l` prints it. */
export function modeOf(node: { type: ListingEntry['type']; executable?: boolean }): string {
  if (node.type === 'directory') return 'dr-xr-xr-x';
  if (node.type === 'symlink') return 'lrwxrwxrwx';
  return node.executable ? '-r-xr-xr-x' : '-r--r--r--';
}

/** Entries of a directory shown on one page of the file browser. */
export const FILES_PAGE_SIZE = 500;
/** Characters of a symlink target shown in a directory's table (its own page shows all). */
const TARGET_SHOWN = 200;

const filesText = (n: number) => (n === 1 ? '1 file' : `${n.toLocaleString('en')} files`);

/** The address of a node inside a store path (`''` is the root). */
export function filesUrl(nixUi: NixUi, owner: Owner, hashPart: string, inner: string): string {
  const base = `${nixUi.pathUrl(owner, hashPart)}/files`;
  return inner === '' ? base : `${base}/${encodeNarPath(inner)}`;
}

/**
 * One page of a directory of a NAR listing, in the listing's (bytewise) order, as `ls` and
 * `nix store ls` sort. Names and targets are attacker-controlled: they are text and
 * attribute values only, and go into addresses percent-encoded byte by byte.
 */
export function DirectoryTable(props: { nixUi: NixUi; owner: Owner; hashPart: string; entries: readonly ListingEntry[]; inner: string; empty: boolean }) {
  const { nixUi, owner, hashPart, entries, inner, empty } = props;
  const join = (name: string) => (inner === '' ? name : `${inner}/${name}`);
  return (
    <table class="table nix-tree" id="file-tree">
      <thead>
        <tr>
          <th class="nix-mode">Mode</th>
          <th>Name</th>
          <th class="num">Size</th>
        </tr>
      </thead>
      <tbody>
        {inner !== '' ? (
          <tr>
            <td class="nix-mode"></td>
            <td>
              <a href={filesUrl(nixUi, owner, hashPart, inner.split('/').slice(0, -1).join('/'))} class="nix-up">
                ..
              </a>
            </td>
            <td></td>
          </tr>
        ) : null}
        {empty ? (
          <tr>
            <td colSpan={3} class="muted">
              This directory is empty.
            </td>
          </tr>
        ) : null}
        {entries.map((node) => {
          const name = node.name;
          const link = filesUrl(nixUi, owner, hashPart, join(name));
          const target = node.target ?? '';
          return (
            <tr data-entry={name} data-type={node.type}>
              <td class="nix-mode mono small">{modeOf(node)}</td>
              <td class="nix-entry">
                <Icon name={node.type === 'directory' ? 'folder' : node.type === 'symlink' ? 'link' : node.executable ? 'exec' : 'file'} />
                <a href={link} class={node.type === 'regular' && node.executable ? 'nix-exec' : undefined}>
                  {name}
                  {node.type === 'directory' ? '/' : ''}
                </a>
                {node.type === 'symlink' ? (
                  <span class="nix-target">
                    <span class="muted"> → </span>
                    <span class="mono small">{target.length > TARGET_SHOWN ? `${target.slice(0, TARGET_SHOWN)}…` : target}</span>
                  </span>
                ) : null}
                {node.type === 'regular' && node.executable ? <span class="badge badge-outline nix-x">executable</span> : null}
              </td>
              <td class="num">
                {node.type === 'regular' ? (
                  <Bytes bytes={node.size} />
                ) : node.type === 'directory' ? (
                  <span class="muted small" title={`${filesText(node.files)}, ${node.bytes.toLocaleString('en')} bytes`}>
                    {filesText(node.files)}
                  </span>
                ) : null}
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/**
 * Links between the pages of a directory (`?from=N`, an entry index); says how many
 * entries there are and which of them this page shows.
 */
export function DirectoryPager(props: { url: string; from: number; shown: number; total: number }) {
  const { url, from, shown, total } = props;
  if (from === 0 && shown >= total) return null;
  const at = (n: number) => (n === 0 ? url : `${url}?from=${n}`);
  return (
    <nav class="pagination" aria-label="Pages" id="files-pager">
      <span class="muted small" id="files-window">
        Entries {total === 0 ? 0 : (from + 1).toLocaleString('en')}–{(from + shown).toLocaleString('en')} of {total.toLocaleString('en')}, {FILES_PAGE_SIZE} a page
      </span>
      {from > 0 ? (
        <>
          <a class="page" href={at(0)}>
            « First
          </a>
          <a class="page" href={at(Math.max(0, from - FILES_PAGE_SIZE))} rel="prev">
            ‹ Previous
          </a>
        </>
      ) : (
        <span class="page disabled">‹ Previous</span>
      )}
      {from + shown < total ? (
        <a class="page" href={at(from + FILES_PAGE_SIZE)} rel="next">
          Next ›
        </a>
      ) : (
        <span class="page disabled">Next ›</span>
      )}
    </nav>
  );
}
