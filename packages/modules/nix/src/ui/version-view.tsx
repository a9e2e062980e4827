import { Bytes, CodeBlock, EmptyState, NotFoundError, type VersionViewInput } from '@forge/core';
import type { NixUi } from './nix-ui.js';

/**
 * The host's version page of a Nix package (`/{owner}/-/packages/nix/{name}/{hash}-{name}`):
 * a summary of the store path and a link to its full page. The host checked the owner's
 * visibility; the cache may be stricter, so this checks the cache's too.
 */
export function nixVersionView(nixUi: NixUi) {
  const { nix } = nixUi;
  return async function NixVersion({ ctx, version }: VersionViewInput) {
    if (!(await nixUi.canRead(ctx.actor, ctx.owner))) throw new NotFoundError();
    const path = await nix.paths.byVersion(version.id);
    if (!path) {
      return (
        <section class="card">
          <EmptyState title="This version has no store path">
            <p class="muted">Its narinfo was deleted or has not been uploaded.</p>
          </EmptyState>
        </section>
      );
    }
    const owner = ctx.owner;
    const storePath = `/nix/store/${path.hashPart}-${path.name}`;
    const closure = await nix.paths.closure(owner.id, path.hashPart);
    const refs = path.references.filter((r) => r.slice(0, 32) !== path.hashPart).length;
    return (
      <section class="card" id="nix-version">
        <div class="card-header">
          <h2>Store path</h2>
          <a class="btn btn-small btn-primary" href={nixUi.pathUrl(owner, path.hashPart)}>
            Open store path page
          </a>
        </div>
        <div class="card-body">
          <CodeBlock code={storePath} label="store path" />
          <dl class="kv">
            <dt>NAR size</dt>
            <dd>
              <Bytes bytes={path.narSize} />
            </dd>
            <dt>Download</dt>
            <dd>
              <Bytes bytes={path.fileSize} /> <span class="muted small">({path.compression})</span>
            </dd>
            <dt>References</dt>
            <dd>{refs}</dd>
            <dt>Closure</dt>
            <dd>
              {closure.count.toLocaleString('en')} {closure.count === 1 ? 'path' : 'paths'}, <Bytes bytes={closure.narSize} />
            </dd>
            <dt>Deriver</dt>
            <dd class="mono small break">{path.deriver ?? <span class="muted">unknown</span>}</dd>
            {path.system ? (
              <>
                <dt>System</dt>
                <dd class="mono">{path.system}</dd>
              </>
            ) : null}
            <dt>NarHash</dt>
            <dd class="mono small break">sha256:{path.narHash}</dd>
          </dl>
          <p class="hint">
            Files, signatures, references and referrers are on the <a href={nixUi.pathUrl(owner, path.hashPart)}>store path page</a>.
          </p>
        </div>
      </section>
    );
  };
}
