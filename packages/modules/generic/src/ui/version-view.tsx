import { CodeBlock, formatBytes, shellQuote, type HostInfo, type VersionViewInput } from '@forge/core';

/**
 * The generic version page: how to download, and every file with its size, SHA-256 and a
 * download link. File names are user input: they only ever reach the page as preact text
 * and attribute values (escaped) and as URL segments through encodeURIComponent.
 */
export function genericVersionView(host: HostInfo) {
  return function GenericVersion({ ctx, pkg, version, files }: VersionViewInput) {
    const path = `/api/packages/${encodeURIComponent(ctx.owner.name)}/generic/${encodeURIComponent(pkg.name)}/${encodeURIComponent(version.version)}`;
    const api = host.baseUrl + path;
    // Links stay on whatever address the page was opened with; commands need the public one.
    const fileLink = (name: string) => `${path}/${encodeURIComponent(name)}`;
    const fileUrl = (name: string) => `${api}/${encodeURIComponent(name)}`;
    const first = files[0];
    const auth = ctx.owner.visibility === 'private' ? '--user USERNAME:TOKEN ' : '';
    const uploadTarget = `${api}/FILE_NAME`;
    return (
      <>
        <section class="card">
          <div class="card-header">
            <h2>Installation</h2>
          </div>
          <div class="card-body">
            {first ? (
              <>
                <p>Download a file of this version:</p>
                <CodeBlock code={`curl ${auth}-fLO ${shellQuote(fileUrl(first.name))}`} label="download command" />
              </>
            ) : null}
            {ctx.canWrite ? (
              <>
                <p>Add a file (with a token that has the write:package scope):</p>
                <CodeBlock code={`curl --user USERNAME:TOKEN --upload-file ./FILE_NAME ${shellQuote(uploadTarget)}`} label="upload command" />
              </>
            ) : null}
          </div>
        </section>
        <section class="card">
          <div class="card-header">
            <h2>Files</h2>
            <span class="muted">{files.length}</span>
          </div>
          <table class="table" id="files">
            <thead>
              <tr>
                <th>Name</th>
                <th class="num">Size</th>
                <th>SHA-256</th>
              </tr>
            </thead>
            <tbody>
              {files.map((f) => (
                <tr data-file={f.name}>
                  <td class="break">
                    <a href={fileLink(f.name)} download={f.name}>
                      {f.name}
                    </a>
                  </td>
                  <td class="num" title={`${f.size} bytes`}>
                    {formatBytes(f.size)}
                  </td>
                  <td class="mono small hash">{f.sha256}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </>
    );
  };
}
