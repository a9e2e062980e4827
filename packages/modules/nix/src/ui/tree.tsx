import { Bytes, type Owner } from '@forge/core';
import type { NarListingDirectory, NarListingNode } from '../format/index.js';
import { Icon } from './icon.js';
import { encodeNarPath } from './format.js';
import type { NixUi } from './nix-ui.js';

/** `ls -l`'s first column, as `nix store ls -l` prints it. */
export function modeOf(node: NarListingNode): string {
  if (node.type === 'directory') return 'dr-xr-xr-x';
  if (node.type === 'symlink') return 'lrwxrwxrwx';
  return node.executable ? '-r-xr-xr-x' : '-r--r--r--';
}

const totals = new WeakMap<NarListingNode, { bytes: number; files: number }>();

/** Bytes of the regular files under a node, and how many there are. */
export function treeSize(node: NarListingNode): { bytes: number; files: number } {
  const hit = totals.get(node);
  if (hit) return hit;
  let result = { bytes: 0, files: 0 };
  if (node.type === 'regular') result = { bytes: node.size, files: 1 };
  else if (node.type === 'directory') {
    for (const child of node.entries.values()) {
      const sub = treeSize(child);
      result.bytes += sub.bytes;
      result.files += sub.files;
    }
  }
  totals.set(node, result);
  return result;
}

const filesText = (n: number) => (n === 1 ? '1 file' : `${n.toLocaleString('en')} files`);

/** The address of a node inside a store path (`''` is the root). */
export function filesUrl(nixUi: NixUi, owner: Owner, hashPart: string, inner: string): string {
  const base = `${nixUi.pathUrl(owner, hashPart)}/files`;
  return inner === '' ? base : `${base}/${encodeNarPath(inner)}`;
}

/**
 * A directory of a NAR listing: directories first, then files and links, each in the
 * NAR's (bytewise) order. Names and targets are attacker-controlled: they are text and
 * attribute values only, and go into addresses percent-encoded byte by byte.
 */
export function DirectoryTable(props: { nixUi: NixUi; owner: Owner; hashPart: string; dir: NarListingDirectory; inner: string }) {
  const { nixUi, owner, hashPart, dir, inner } = props;
  const entries = [...dir.entries];
  const sorted = [...entries.filter(([, n]) => n.type === 'directory'), ...entries.filter(([, n]) => n.type !== 'directory')];
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
        {sorted.length === 0 ? (
          <tr>
            <td colSpan={3} class="muted">
              This directory is empty.
            </td>
          </tr>
        ) : null}
        {sorted.map(([name, node]) => {
          const link = filesUrl(nixUi, owner, hashPart, join(name));
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
                    <span class="mono small">{node.target}</span>
                  </span>
                ) : null}
                {node.type === 'regular' && node.executable ? <span class="badge badge-outline nix-x">executable</span> : null}
              </td>
              <td class="num">
                {node.type === 'regular' ? (
                  <Bytes bytes={node.size} />
                ) : node.type === 'directory' ? (
                  <span class="muted small" title={`${filesText(treeSize(node).files)}, ${treeSize(node).bytes.toLocaleString('en')} bytes`}>
                    {filesText(treeSize(node).files)}
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
