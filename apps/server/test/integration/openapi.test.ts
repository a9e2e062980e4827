/**
 * The OpenAPI document served at /api/swagger.v1.json is checked against the routes the
 * running server really registered (express's own route table, nested routers included):
 * every JSON API route is documented and every documented operation exists, so the document
 * cannot drift from the code. In scope: Gitea's `/api/v1` and each package type's
 * administration API under `/api/packages/{owner}/{type}/-/`; the package protocols
 * (generic files, the Nix binary cache) are documented in docs/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationsOf, routeTable, startTestServer, type OpenApiDocument, type TestServer } from '@forge/server/testing';

/** `/api/v1/packages/:owner` → `/api/v1/packages/{owner}` */
const asTemplate = (expressPath: string) => expressPath.replace(/:([A-Za-z_]+)/g, '{$1}');
const documentedScope = (path: string) => path.startsWith('/api/v1/') || /^\/api\/packages\/\{owner\}\/[a-z][a-z0-9-]*\/-\//.test(path);

// The document does not depend on the database: PGlite is enough here (the API's behaviour
// is tested on both in gitea-api.test.ts).
describe('the OpenAPI document', () => {
  let t: TestServer;
  let doc: OpenApiDocument;

  beforeAll(async () => {
    t = await startTestServer({ db: 'pglite' });
    const res = await fetch(`${t.url}/api/swagger.v1.json`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = (await res.json()) as OpenApiDocument;
  });
  afterAll(() => t?.close());

  it('documents exactly the JSON API routes the server registered', () => {
    const registered = routeTable(t.forge.app)
      .map((r) => `${r.method} ${asTemplate(r.path)}`)
      .filter((r) => documentedScope(r.slice(r.indexOf(' ') + 1)));
    const documented = operationsOf(doc).map((o) => `${o.method} ${o.path}`);
    // The walker found the routers' routes at all (a broken walk would make both sides empty).
    expect(registered).toContain('GET /api/v1/packages/{owner}/{type}/{name}/{version}/files');
    expect(registered).toContain('PUT /api/packages/{owner}/nix/-/settings');
    expect([...new Set(registered)].sort()).toEqual([...new Set(documented)].sort());
  });

  it('declares every path parameter, and gives each operation a unique id and responses', () => {
    const ids = new Set<string>();
    for (const { method, path, operation } of operationsOf(doc)) {
      const where = `${method} ${path}`;
      const id = String(operation.operationId ?? '');
      expect(id, where).not.toBe('');
      expect(ids.has(id), `${where}: duplicate operationId ${id}`).toBe(false);
      ids.add(id);
      expect(Object.keys((operation.responses ?? {}) as object).length, where).toBeGreaterThan(0);
      const declared = [...((doc.paths[path]!.parameters as Array<{ name: string; in: string }>) ?? []), ...((operation.parameters as Array<{ name: string; in: string }>) ?? [])]
        .filter((p) => p.in === 'path')
        .map((p) => p.name)
        .sort();
      const inPath = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      expect(declared, where).toEqual(inPath);
    }
  });

  it('resolves every schema reference', () => {
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(5);
    for (const name of refs) expect(doc.components.schemas, name).toHaveProperty(name);
  });

  it('uses Gitea\'s operation ids for Gitea\'s routes, so generated clients line up', () => {
    const byRoute = Object.fromEntries(operationsOf(doc).map((o) => [`${o.method} ${o.path}`, o.operation.operationId]));
    expect(byRoute).toMatchObject({
      'GET /api/v1/version': 'getVersion',
      'GET /api/v1/user': 'userGetCurrent',
      'GET /api/v1/packages/{owner}': 'listPackages',
      'GET /api/v1/packages/{owner}/{type}/{name}/{version}': 'getPackage',
      'DELETE /api/v1/packages/{owner}/{type}/{name}/{version}': 'deletePackage',
      'GET /api/v1/packages/{owner}/{type}/{name}/{version}/files': 'listPackageFiles',
      'POST /api/v1/users/{username}/tokens': 'userCreateToken',
    });
  });

  it('is served where Gitea serves its own, with a page at /api/swagger', async () => {
    expect(await (await fetch(`${t.url}/swagger.v1.json`)).json()).toEqual(doc);
    expect(doc.servers).toEqual([{ url: t.url }]);
    const page = await fetch(`${t.url}/api/swagger`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('href="swagger.v1.json"');
    expect(html).toContain('<code>/api/v1/packages/{owner}/{type}/{name}/{version}/files</code>');
    expect(html).toContain('nixPutSettings');
    expect(html).not.toContain('<script');
  });
});
