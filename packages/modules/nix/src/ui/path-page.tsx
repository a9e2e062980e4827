import type { Request, Response } from 'express';
import { Bytes, Card, CodeBlock, EmptyState, formatBytes, type Owner, shellQuote, Time, type UiHelpers } from '@forge/core';
import type { SignatureRow, StorePathRecord } from '../cache/index.js';
import type { ListingLookup } from '../format/index.js';
import { Icon } from './icon.js';
import { PinsCard } from './pins-page.js';
import type { NixUi } from './nix-ui.js';
import { DirectoryTable, filesUrl, modeOf } from './tree.js';

const REFERRERS_SHOWN = 100;
/** Entries of the root directory shown on the path's page (the file browser pages the rest). */
const ROOT_ENTRIES_SHOWN = 100;

/** `/{owner}/-/packages/nix/-/cache/paths/{hash}`: everything about one store path. */
export function pathPage(nixUi: NixUi, ui: UiHelpers) {
  const { nix } = nixUi;
  return async (req: Request, res: Response) => {
    const { page, path } = await nixUi.path(ui, req);
    const owner = page.owner;
    const selfRef = (r: string) => r.slice(0, 32) === path.hashPart;
    const refHashes = path.references.filter((r) => !selfRef(r)).map((r) => r.slice(0, 32));
    const [narinfo, closure, referrers, referrerCount, listing, log, present, stored, pins] = await Promise.all([
      nix.renderer.render(path),
      nix.paths.closure(owner.id, path.hashPart),
      nix.paths.referrers(owner.id, path.hashPart, REFERRERS_SHOWN),
      nix.paths.referrerCount(owner.id, path.hashPart),
      nix.contents.browse(path, '', { offset: 0, limit: ROOT_ENTRIES_SHOWN }).catch(() => null),
      nix.contents.log(path),
      nix.paths.present(owner.id, refHashes),
      nix.versionOf(path),
      nix.pins.pinning(owner, path.hashPart),
    ]);
    const { version, package: pkg, creator } = stored ?? { version: null, package: null, creator: null };
    const narinfoText = narinfo.toString('utf8');
    const signatures = await nix.signaturesOf(path, narinfo);
    const storePath = `/nix/store/${path.hashPart}-${path.name}`;
    const base = nixUi.pathUrl(owner, path.hashPart);
    const now = Date.now();
    await ui.render(res, page, {
      title: `${path.name} · Nix cache · ${owner.name}`,
      trail: [
        ['Nix cache', nixUi.cacheUrl(owner)],
        ['Store paths', nixUi.pathsUrl(owner)],
        [path.name, ''],
      ],
      body: (
        <div class="page-grid">
          <div class="page-main">
            <section class="card" id="store-path">
              <div class="card-header">
                <h2>Store path</h2>
                <span class="badges">
                  <span class="badge badge-blue">{path.compression === 'none' ? 'uncompressed' : path.compression}</span>
                  {path.ca ? <span class="badge badge-green">content-addressed</span> : null}
                  {path.system ? <span class="badge badge-outline">{path.system}</span> : null}
                </span>
              </div>
              <div class="card-body">
                <CodeBlock code={storePath} label="store path" id="store-path-name" />
                <dl class="kv nix-narinfo" id="narinfo-fields">
                  <dt>StorePath</dt>
                  <dd class="mono break">{storePath}</dd>
                  <dt>URL</dt>
                  <dd class="mono break">{path.url}</dd>
                  <dt>Compression</dt>
                  <dd class="mono">{path.compression}</dd>
                  <dt>FileHash</dt>
                  <dd class="mono break">sha256:{path.fileHash}</dd>
                  <dt>FileSize</dt>
                  <dd>
                    <Bytes bytes={path.fileSize} /> <span class="muted small">({path.fileSize.toLocaleString('en')} bytes)</span>
                  </dd>
                  <dt>NarHash</dt>
                  <dd class="mono break">sha256:{path.narHash}</dd>
                  <dt>NarSize</dt>
                  <dd>
                    <Bytes bytes={path.narSize} /> <span class="muted small">({path.narSize.toLocaleString('en')} bytes)</span>
                  </dd>
                  <dt>References</dt>
                  <dd>
                    {path.references.length === 0 ? <span class="muted">none</span> : `${path.references.length}${path.references.some(selfRef) ? ' (including itself)' : ''}`}
                  </dd>
                  <dt>Deriver</dt>
                  <dd class="mono break">{path.deriver ?? <span class="muted">unknown</span>}</dd>
                  <dt>System</dt>
                  <dd class="mono">{path.system ?? <span class="muted">not given</span>}</dd>
                  <dt>CA</dt>
                  <dd class="mono break">{path.ca ?? <span class="muted">none (input-addressed)</span>}</dd>
                  <dt>Sig</dt>
                  <dd>{signatures.length === 1 ? '1 signature' : `${signatures.length} signatures`}</dd>
                </dl>
                <details class="nix-raw">
                  <summary>The narinfo as served</summary>
                  <CodeBlock code={narinfoText.trimEnd()} label="narinfo" id="narinfo-raw" />
                </details>
              </div>
            </section>

            <Card title="Signatures" flush id="signatures">
              <table class="table">
                <thead>
                  <tr>
                    <th>Key</th>
                    <th>Made by</th>
                    <th>Signature</th>
                  </tr>
                </thead>
                <tbody>
                  {signatures.map((s) => (
                    <tr data-key={s.keyName}>
                      <td class="mono small break">{s.keyName}</td>
                      <td>
                        <SignatureBadge row={s} />
                      </td>
                      <td class="mono small hash">{s.signature.slice(s.keyName.length + 1)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </Card>

            <Files nixUi={nixUi} owner={owner} path={path} listing={listing} />

            <Card title={`References (${refHashes.length})`} flush id="references">
              {refHashes.length === 0 ? (
                <EmptyState title="No references">
                  <p class="muted small">This path needs no other store path at run time.</p>
                </EmptyState>
              ) : (
                <ul class="list list-compact">
                  {path.references
                    .filter((r) => !selfRef(r))
                    .map((r) => {
                      const hash = r.slice(0, 32);
                      return (
                        <li class="list-item">
                          <Icon name="package" />
                          {present.has(hash) ? (
                            <a class="mono small break" href={nixUi.pathUrl(owner, hash)}>
                              {r}
                            </a>
                          ) : (
                            <span class="mono small break">{r}</span>
                          )}
                        </li>
                      );
                    })}
                </ul>
              )}
            </Card>

            <Card title={`Referrers (${referrerCount})`} flush id="referrers">
              {referrers.length === 0 ? (
                <EmptyState title="No referrers">
                  <p class="muted small">No other path in this cache depends on this one.</p>
                </EmptyState>
              ) : (
                <ul class="list list-compact">
                  {referrers.map((r) => (
                    <li class="list-item">
                      <Icon name="package" />
                      <a class="mono small break" href={nixUi.pathUrl(owner, r.hashPart)}>
                        {r.hashPart}-{r.name}
                      </a>
                    </li>
                  ))}
                  {referrerCount > referrers.length ? <li class="list-item muted small">… and {referrerCount - referrers.length} more</li> : null}
                </ul>
              )}
            </Card>
          </div>

          <aside class="page-side">
            <Card title="Closure" id="closure">
              <dl class="kv">
                <dt>Paths</dt>
                <dd>{closure.count.toLocaleString('en')}</dd>
                <dt>NAR size</dt>
                <dd>
                  <Bytes bytes={closure.narSize} />
                </dd>
              </dl>
              <p class="hint">This path and everything it references, directly or not.</p>
            </Card>
            <PinsCard nixUi={nixUi} page={page} hashPart={path.hashPart} pins={pins} />
            <Card title="Download" id="download">
              <p>
                <a class="btn btn-primary btn-block" href={`${base}/nar`} download>
                  Download NAR ({formatBytes(path.fileSize)})
                </a>
              </p>
              <p class="hint">With this cache as a substituter:</p>
              <div class="nix-wrap">
                <CodeBlock code={`nix-store --realise ${shellQuote(storePath)}`} label="realise command" />
              </div>
            </Card>
            <Card title="Build log" id="build-log">
              {log ? (
                <p>
                  <a class="btn btn-block" href={`${base}/log`}>
                    View build log
                  </a>
                </p>
              ) : (
                <p class="muted small">
                  No build log was uploaded{path.deriver ? '' : ' (the deriver is unknown)'}. Upload one with <code>nix store copy-log</code>.
                </p>
              )}
            </Card>
            <Card title="Details">
              <dl class="kv">
                <dt>Pushed</dt>
                <dd>
                  <Time date={path.createdAt} now={now} />
                </dd>
                {creator ? (
                  <>
                    <dt>By</dt>
                    <dd id="nix-provenance">
                      {creator.name}
                      {path.tokenName ? (
                        <span class="muted">
                          {' '}
                          with the token <span class="mono">{path.tokenName}</span>
                        </span>
                      ) : null}
                    </dd>
                  </>
                ) : null}
                {path.pulledFrom ? (
                  <>
                    <dt>Pulled through</dt>
                    <dd class="break" id="nix-pulled-from">
                      from <span class="mono">{path.pulledFrom}</span>
                    </dd>
                  </>
                ) : null}
                <dt>Last fetched</dt>
                <dd>
                  <Time date={path.lastAccessedAt} now={now} />
                </dd>
                {version && pkg ? (
                  <>
                    <dt>Package</dt>
                    <dd class="break">
                      <a href={`/${encodeURIComponent(owner.name)}/-/packages/nix/${encodeURIComponent(pkg.name)}`}>{pkg.name}</a>
                      {typeof version.metadata.drvVersion === 'string' && version.metadata.drvVersion ? (
                        <span class="muted"> {version.metadata.drvVersion}</span>
                      ) : null}
                    </dd>
                  </>
                ) : null}
              </dl>
            </Card>
            {page.canWrite ? (
              <section class="card nix-danger" id="danger-zone">
                <div class="card-header">
                  <h2>Danger zone</h2>
                </div>
                <div class="card-body">
                  <p class="small">Deleting removes the narinfo, and the NAR unless another path of this cache uses it.</p>
                  <a class="btn btn-danger-outline btn-block" href={`${base}/delete`}>
                    Delete this store path
                  </a>
                </div>
              </section>
            ) : null}
          </aside>
        </div>
      ),
    });
  };
}

function SignatureBadge({ row }: { row: SignatureRow }) {
  if (row.kind === 'server') {
    return (
      <span class="badges">
        <span class="badge badge-blue">Server key</span>
        {row.status === 'active' ? <span class="badge badge-green">active</span> : <span class="badge badge-gray">retired</span>}
        {row.valid ? null : <span class="badge badge-red">does not verify</span>}
      </span>
    );
  }
  return (
    <span class="badges">
      <span class="badge badge-outline">Uploader key</span>
      {row.status === 'trusted' ? (
        row.valid ? (
          <span class="badge badge-green">trusted</span>
        ) : (
          <span class="badge badge-red">trusted, does not verify</span>
        )
      ) : (
        <span class="badge badge-gray">not trusted</span>
      )}
    </span>
  );
}

function Files({ nixUi, owner, path, listing }: { nixUi: NixUi; owner: Owner; path: StorePathRecord; listing: ListingLookup | null }) {
  if (!listing?.found) {
    return (
      <Card title="Files" id="files">
        <p class="muted">No listing is stored for this path's NAR.</p>
      </Card>
    );
  }
  const root = listing.node;
  const browse = filesUrl(nixUi, owner, path.hashPart, '');
  return (
    <Card
      title="Files"
      flush
      id="files"
      end={
        <a class="small" href={browse}>
          Browse
        </a>
      }
    >
      {root.type === 'directory' ? (
        <>
          <DirectoryTable nixUi={nixUi} owner={owner} hashPart={path.hashPart} entries={listing.entries} inner="" empty={listing.entryCount === 0} />
          {listing.entryCount > listing.entries.length ? (
            <div class="card-body" id="files-more">
              <a href={browse}>
                All {listing.entryCount.toLocaleString('en')} entries
              </a>{' '}
              <span class="muted small">(the first {listing.entries.length} are shown here)</span>
            </div>
          ) : null}
        </>
      ) : (
        <div class="card-body">
          <p>
            This store path is a single {root.type === 'symlink' ? 'symbolic link' : 'file'} (<span class="mono">{modeOf(root)}</span>
            {root.type === 'regular' ? (
              <>
                , <Bytes bytes={root.size} />
              </>
            ) : null}
            ). <a href={browse}>View it</a>
          </p>
        </div>
      )}
    </Card>
  );
}
