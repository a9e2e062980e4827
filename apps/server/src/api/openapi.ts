import express, { type Router } from 'express';
import type { ModuleApiDoc } from '@forge/core';
import { hostPaths, hostSchemas } from './openapi-host.js';
import { FORGE_VERSION, GITEA_API_LEVEL } from './server-version.js';

export type OpenApiDocument = {
  openapi: string;
  info: Record<string, unknown>;
  servers: Array<{ url: string }>;
  paths: Record<string, Record<string, unknown>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

/**
 * The OpenAPI 3.0 document of this server's JSON APIs: Gitea's `/api/v1` routes (the host's
 * part) and each package type's administration API under `/api/packages/{owner}/{type}/-/`
 * (what the modules described with `describeApi`, under their mount). The package protocols
 * themselves (generic uploads, the Nix binary cache) are documented in docs/, as Gitea does.
 */
export function buildOpenApiDocument(baseUrl: string, modules: ReadonlyMap<string, ModuleApiDoc>): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = { ...hostPaths };
  const schemas: Record<string, unknown> = { ...hostSchemas };
  for (const [type, doc] of modules) {
    for (const [path, item] of Object.entries(doc.paths)) {
      const owner = { name: 'owner', in: 'path', required: true, description: 'owner of the cache', schema: { type: 'string' } };
      paths[`/api/packages/{owner}/${type}${path}`] = { ...item, parameters: [owner, ...((item.parameters as unknown[] | undefined) ?? [])] };
    }
    for (const [name, schema] of Object.entries(doc.schemas ?? {})) {
      if (name in schemas) throw new Error(`the OpenAPI schema ${name} of the ${type} module clashes with another`);
      schemas[name] = schema;
    }
  }
  return {
    openapi: '3.0.3',
    info: {
      title: 'forge API',
      description: `A Gitea-compatible package registry (Gitea API level ${GITEA_API_LEVEL}). Differences from Gitea: docs/api.md.`,
      version: `${GITEA_API_LEVEL}+forge-${FORGE_VERSION}`,
    },
    servers: [{ url: baseUrl }],
    paths,
    components: {
      schemas,
      securitySchemes: {
        AccessToken: { type: 'apiKey', in: 'header', name: 'Authorization', description: '`token <token>` or `Bearer <token>`' },
        BasicAuth: { type: 'http', scheme: 'basic', description: 'user name and password, or any user name and a token as the password' },
      },
    },
  };
}

/** Every operation of the document: method, path (OpenAPI template) and its operation object. */
export function operationsOf(doc: OpenApiDocument): Array<{ method: string; path: string; operation: Record<string, unknown> }> {
  const out = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method] as Record<string, unknown> | undefined;
      if (operation) out.push({ method: method.toUpperCase(), path, operation });
    }
  }
  return out;
}

/**
 * The document at `/api/swagger.v1.json` (and at `/swagger.v1.json`, where Gitea serves its
 * own), and a page at `/api/swagger`, Gitea's address for its API documentation, that lists
 * the operations and links the JSON. The page is plain HTML without scripts (no Swagger UI
 * bundle to serve or keep patched); any OpenAPI viewer can open the JSON.
 */
export function openApiRouter(document: () => OpenApiDocument): Router {
  const router = express.Router();
  let cached: { json: string; html: string } | undefined;
  const rendered = () => {
    if (!cached) {
      const doc = document();
      cached = { json: JSON.stringify(doc, null, 2), html: renderPage(doc) };
    }
    return cached;
  };
  const sendJson: express.RequestHandler = (_req, res) => {
    res.type('application/json').send(rendered().json);
  };
  router.get('/api/swagger.v1.json', sendJson);
  router.get('/swagger.v1.json', sendJson);
  router.get('/api/swagger', (_req, res) => {
    res.setHeader('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'");
    res.type('text/html').send(rendered().html);
  });
  return router;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function renderPage(doc: OpenApiDocument): string {
  const rows = operationsOf(doc)
    .map(
      ({ method, path, operation }) =>
        `<tr><td><code>${method}</code></td><td><code>${escapeHtml(path)}</code></td><td><code>${escapeHtml(String(operation.operationId ?? ''))}</code></td><td>${escapeHtml(String(operation.summary ?? ''))}</td></tr>`,
    )
    .join('\n');
  const info = doc.info as { title: string; version: string; description: string };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(info.title)}</title>
<style>body{font:14px/1.5 system-ui,sans-serif;margin:2em}table{border-collapse:collapse}td{border-top:1px solid #ddd;padding:.3em .8em;vertical-align:top}</style></head>
<body><h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description)}</p>
<p>OpenAPI document: <a href="swagger.v1.json">swagger.v1.json</a></p>
<table><tbody>
${rows}
</tbody></table></body></html>
`;
}
