import type { NextFunction, Request, Response } from 'express';
import { Bytes, Card, formatBytes, NotFoundError, Notice, type Owner, type UiHelpers } from '@forge/core';
import { decodeNarString, isStorePathHash, NAR_MAX_ENTRIES, type ListingEntry } from '../format/index.js';
import { narFileNameOf, type FilePreview, type StorePathRecord } from '../cache/index.js';
import { Icon } from './icon.js';
import { hexDump, looksLikeText, percentDecodeBytes, stripAnsi } from './format.js';
import type { NixUi } from './nix-ui.js';
import { DirectoryPager, DirectoryTable, FILES_PAGE_SIZE, filesUrl, modeOf } from './tree.js';

/** At most this much of a file is read and shown. */
const FILE_PREVIEW_BYTES = 256 * 1024;
/** At most this many lines of it. */
const FILE_PREVIEW_LINES = 5000;
/** Binary files: a hex dump of their start. */
const HEX_PREVIEW_BYTES = 512;
/** At most this much of a build log is shown. */
const LOG_PREVIEW_BYTES = 1024 * 1024;

/**
 * `/{owner}/-/packages/nix/-/cache/paths/{hash}/files/{path…}`: a directory of the NAR
 * listing, or a file's content read from the NAR by its offset. The path after `files/` is
 * percent-decoded byte by byte (names inside a NAR need not be UTF-8), so this is mounted
 * with `router.use` rather than a route parameter, which would be decoded as UTF-8.
 */
export function filesPage(nixUi: NixUi, ui: UiHelpers) {
  return async (req: Request, res: Response, next: NextFunction) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const { page, path } = await nixUi.path(ui, req);
    const owner = page.owner;
    const inner = decodeNarString(percentDecodeBytes(req.path.replace(/^\/+|\/+$/g, '')));
    if (inner.split('/').some((s) => s === '.' || s === '..')) throw new NotFoundError();
    const from = entryIndex(req.query.from);
    const found = await nixUi.nix.contents.browse(path, inner, { offset: from, limit: FILES_PAGE_SIZE });
    if (!found?.found) throw new NotFoundError();
    const node = found.node;
    const storePath = `/nix/store/${path.hashPart}-${path.name}`;
    const title = inner === '' ? path.name : `${inner.split('/').pop()} · ${path.name}`;

    let content;
    if (node.type === 'directory') {
      const size = { files: node.files, bytes: node.bytes };
      const here = filesUrl(nixUi, owner, path.hashPart, inner);
      content = (
        <Card
          title={inner === '' ? 'Files' : `${inner}/`}
          flush
          id="files"
          end={
            <span class="muted small">
              {size.files === 1 ? '1 file' : `${size.files.toLocaleString('en')} files`}, {formatBytes(size.bytes)}
            </span>
          }
        >
          <DirectoryTable nixUi={nixUi} owner={owner} hashPart={path.hashPart} entries={found.entries} inner={inner} empty={found.entryCount === 0} />
          <DirectoryPager url={here} from={from} shown={found.entries.length} total={found.entryCount} />
        </Card>
      );
    } else if (node.type === 'symlink') {
      const target = await resolveLink(nixUi, owner, path, inner, node.target ?? '');
      content = (
        <Card title="Symbolic link" id="file-view">
          <dl class="kv">
            <dt>Mode</dt>
            <dd class="mono">{modeOf(node)}</dd>
            <dt>Target</dt>
            <dd class="mono break" id="link-target">
              {target ? <a href={target}>{node.target}</a> : node.target}
            </dd>
          </dl>
          {target ? null : <p class="hint">The target is outside this cache, or does not exist.</p>}
        </Card>
      );
    } else {
      const nar = await nixUi.nix.contents.nar(path);
      if (!nar) throw new NotFoundError();
      const preview = await nixUi.nix.contents.readFile(
        { sha256: nar.file.sha256, compression: nar.compression },
        { path: inner, size: node.size, narOffset: node.narOffset },
        FILE_PREVIEW_BYTES,
      );
      content = <FileView node={node} preview={preview} name={inner.split('/').pop() || path.name} />;
    }

    await ui.render(res, page, {
      title: `${title} · Nix cache · ${owner.name}`,
      trail: [
        ['Nix cache', nixUi.cacheUrl(owner)],
        ['Store paths', nixUi.pathsUrl(owner)],
        [path.name, nixUi.pathUrl(owner, path.hashPart)],
        ['Files', ''],
      ],
      body: (
        <>
          <nav class="nix-crumbs mono" aria-label="Location in the store path" id="file-crumbs">
            <a href={filesUrl(nixUi, owner, path.hashPart, '')}>{storePath}</a>
            {inner === ''
              ? null
              : inner.split('/').map((segment, i, all) => (
                  <>
                    <span class="crumb-sep">/</span>
                    {i === all.length - 1 ? <span>{segment}</span> : <a href={filesUrl(nixUi, owner, path.hashPart, all.slice(0, i + 1).join('/'))}>{segment}</a>}
                  </>
                ))}
          </nav>
          {content}
        </>
      ),
    });
  };
}

/** `?from=N`: the index of a directory's first entry on the page (0 when absent or not a count). */
function entryIndex(value: unknown): number {
  if (typeof value !== 'string' || !/^\d{1,10}$/.test(value)) return 0;
  return Math.min(Number(value), NAR_MAX_ENTRIES);
}

function FileView({ node, preview, name }: { node: ListingEntry; preview: FilePreview; name: string }) {
  const text = looksLikeText(preview.bytes, preview.truncated);
  const header = (
    <span class="badges">
      <span class="mono small muted">{modeOf(node)}</span>
      <span class="badge badge-gray">
        <Bytes bytes={node.size} />
      </span>
      {node.executable ? <span class="badge badge-outline">executable</span> : null}
      <span class="badge badge-outline">{text ? 'text' : 'binary'}</span>
    </span>
  );
  if (node.size === 0) {
    return (
      <Card title={name} end={header} id="file-view">
        <p class="muted">This file is empty.</p>
      </Card>
    );
  }
  if (!text) {
    return (
      <Card title={name} end={header} id="file-view">
        <Notice kind="info">This is a binary file: only its first {Math.min(HEX_PREVIEW_BYTES, preview.bytes.length)} bytes are shown, as hex.</Notice>
        <pre class="nix-hex" id="file-hex">
          <code>{hexDump(preview.bytes, HEX_PREVIEW_BYTES)}</code>
        </pre>
      </Card>
    );
  }
  let lines = new TextDecoder('utf-8').decode(preview.bytes).split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines = lines.slice(0, -1);
  const cutLines = lines.length > FILE_PREVIEW_LINES;
  if (cutLines) lines = lines.slice(0, FILE_PREVIEW_LINES);
  return (
    <section class="card" id="file-view">
      <div class="card-header">
        <h2>
          <Icon name={node.executable ? 'exec' : 'file'} /> {name}
        </h2>
        {header}
      </div>
      {preview.truncated || cutLines ? (
        <div class="nix-file-note">
          Showing the first {cutLines ? `${FILE_PREVIEW_LINES.toLocaleString('en')} lines` : formatBytes(preview.bytes.length)} of {formatBytes(node.size)}. Download the NAR for all of it.
        </div>
      ) : null}
      <pre class="nix-code" id="file-content">
        <code>
          {lines.map((line) => (
            <span class="line">
              {line}
              {'\n'}
            </span>
          ))}
        </code>
      </pre>
    </section>
  );
}

/**
 * Where a symlink points, as a page of this cache: inside the same path (relative targets
 * and absolute ones into it) or into another path this cache holds. Null otherwise.
 */
async function resolveLink(nixUi: NixUi, owner: Owner, path: StorePathRecord, inner: string, target: string): Promise<string | null> {
  const self = `/nix/store/${path.hashPart}-${path.name}`;
  const dir = inner.split('/').slice(0, -1).join('/');
  const absolute = target.startsWith('/') ? target : `${self}${dir ? `/${dir}` : ''}/${target}`;
  const parts: string[] = [];
  for (const segment of absolute.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') parts.pop();
    else parts.push(segment);
  }
  if (parts[0] !== 'nix' || parts[1] !== 'store' || parts.length < 3) return null;
  const base = parts[2]!;
  const hash = base.slice(0, 32);
  if (!isStorePathHash(hash) || base[32] !== '-') return null;
  const rest = parts.slice(3).join('/');
  if (hash === path.hashPart) {
    const found = await nixUi.nix.contents.browse(path, rest);
    return found?.found ? filesUrl(nixUi, owner, hash, rest) : null;
  }
  const other = await nixUi.nix.paths.byHash(owner.id, hash);
  if (!other || `${other.hashPart}-${other.name}` !== base) return null;
  return rest ? filesUrl(nixUi, owner, hash, rest) : nixUi.pathUrl(owner, hash);
}

/** `…/paths/{hash}/nar`: the NAR file, as stored (compressed as its narinfo says). */
export function narDownload(nixUi: NixUi, ui: UiHelpers) {
  return async (req: Request, res: Response) => {
    const { path } = await nixUi.path(ui, req);
    const nar = await nixUi.nix.contents.nar(path);
    if (!nar) throw new NotFoundError();
    const fileName = narFileNameOf(path.url);
    await nixUi.ctx.serveBlob(req, res, {
      sha256: nar.file.sha256,
      size: nar.file.size,
      contentType: 'application/x-nix-nar',
      headers: { 'Content-Disposition': `attachment; filename="${fileName}"`, 'Cache-Control': 'private, no-store' },
    });
  };
}

/** `…/paths/{hash}/log`: the build log as text in the page (escaped, colours removed). */
export function logPage(nixUi: NixUi, ui: UiHelpers) {
  return async (req: Request, res: Response) => {
    const { page, path } = await nixUi.path(ui, req);
    const log = await nixUi.nix.contents.log(path);
    if (!log) throw new NotFoundError();
    const { text, truncated } = await nixUi.nix.contents.readLog(log, LOG_PREVIEW_BYTES);
    const owner = page.owner;
    const body = stripAnsi(new TextDecoder('utf-8').decode(text));
    await ui.render(res, page, {
      title: `Build log · ${path.name} · Nix cache · ${owner.name}`,
      trail: [
        ['Nix cache', nixUi.cacheUrl(owner)],
        ['Store paths', nixUi.pathsUrl(owner)],
        [path.name, nixUi.pathUrl(owner, path.hashPart)],
        ['Build log', ''],
      ],
      body: (
        <section class="card" id="log-view">
          <div class="card-header">
            <h2 class="mono small break">{path.deriver}</h2>
            <a class="btn btn-small" href={`${nixUi.pathUrl(owner, path.hashPart)}/log/raw`}>
              Download
            </a>
          </div>
          {truncated ? <div class="nix-file-note">Showing the first {formatBytes(LOG_PREVIEW_BYTES)}. Download the log for all of it.</div> : null}
          <pre class="nix-log" id="log-text">
            <code>{body}</code>
          </pre>
        </section>
      ),
    });
  };
}

/** `…/paths/{hash}/log/raw`: the log file, decoded by the browser if it was compressed. */
export function logDownload(nixUi: NixUi, ui: UiHelpers) {
  return async (req: Request, res: Response) => {
    const { path } = await nixUi.path(ui, req);
    const log = await nixUi.nix.contents.log(path);
    if (!log) throw new NotFoundError();
    const encoding = log.properties.contentEncoding as string | undefined;
    await nixUi.ctx.serveBlob(req, res, {
      sha256: log.sha256,
      size: log.size,
      contentType: 'text/plain; charset=utf-8',
      headers: {
        'Content-Disposition': `attachment; filename="${path.deriver}.log"`,
        'Cache-Control': 'private, no-store',
        ...(encoding ? { 'Content-Encoding': encoding } : {}),
      },
    });
  };
}
