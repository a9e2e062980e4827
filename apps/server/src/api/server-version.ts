import fs from 'node:fs';
import express, { type Router } from 'express';

/**
 * The Gitea API level this server answers like: the Gitea release whose OpenAPI document
 * the client library the tests use was generated from (gitea-js 1.23.0). Clients compare
 * the reported version against it to decide which calls they may make (the Go SDK needs
 * at least 1.17 for packages).
 */
export const GITEA_API_LEVEL = '1.23.0';

/** This server's own version (apps/server/package.json, two folders up from src/api or dist/api). */
export const FORGE_VERSION: string = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * `GET /api/v1/version` as Gitea answers it (`{"version": …}`), anonymous and without a
 * scope, as in Gitea. The version is the Gitea API level, with this server's own version as
 * semver build metadata (`1.23.0+forge-0.1.0`), the way Forgejo reports its Gitea
 * compatibility: version checks in clients compare the part before `+`.
 */
export function serverVersionRouter(): Router {
  const router = express.Router();
  const version = `${GITEA_API_LEVEL}+forge-${FORGE_VERSION}`;
  router.get('/api/v1/version', (_req, res) => {
    res.json({ version });
  });
  return router;
}
