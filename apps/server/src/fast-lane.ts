import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Express } from 'express';
import { ANONYMOUS, type FastRoute, type Logger } from '@forge/core';
import { resolveActor, setActor, type AuthenticateOptions } from '@forge/auth';
import { writeError } from './http-errors.js';
import { setRoutePattern } from './request-observer.js';

const PREFIX = '/api/packages/';

/**
 * Hot package reads answered before express (FastRoute): the request is parsed once,
 * authenticated with the same rules, answered by the module, and mapped to errors exactly
 * like an express route (the request observer around both logs and counts it). Everything else goes to express untouched.
 */
export class FastLane {
  readonly #routes = new Map<string, FastRoute[]>();

  add(type: string, route: FastRoute): void {
    const list = this.#routes.get(type) ?? [];
    list.push(route);
    this.#routes.set(type, list);
  }

  listener(app: Express, options: { auth: AuthenticateOptions; logger: Logger }): RequestListener {
    if (this.#routes.size === 0) return app;
    return (req, res) => {
      const hit = (req.method === 'GET' || req.method === 'HEAD') && req.url?.startsWith(PREFIX) ? this.match(req.url) : null;
      if (!hit) {
        app(req, res);
        return;
      }
      setRoutePattern(req, `/api/packages/:owner/${hit.type}${hit.route.route ?? hit.route.pattern.source}`);
      void this.run(hit, req, res, options);
    };
  }

  private match(url: string): { route: FastRoute; match: RegExpExecArray; owner: string; type: string } | null {
    const query = url.indexOf('?');
    const path = query < 0 ? url : url.slice(0, query);
    const ownerEnd = path.indexOf('/', PREFIX.length);
    if (ownerEnd < 0) return null;
    const typeEnd = path.indexOf('/', ownerEnd + 1);
    if (typeEnd < 0) return null;
    const type = path.slice(ownerEnd + 1, typeEnd);
    const routes = this.#routes.get(type);
    if (!routes) return null;
    // express refuses an encoded NUL (see forge.ts), with the same error mapping.
    if (url.includes('%00')) return null;
    const rest = path.slice(typeEnd + 1);
    for (const route of routes) {
      const match = route.pattern.exec(rest);
      if (!match) continue;
      let owner: string;
      try {
        owner = decodeURIComponent(path.slice(PREFIX.length, ownerEnd));
      } catch {
        return null; // express answers the malformed encoding
      }
      return { route, match, owner, type };
    }
    return null;
  }

  private async run(
    hit: { route: FastRoute; match: RegExpExecArray; owner: string },
    req: IncomingMessage,
    res: ServerResponse,
    options: { auth: AuthenticateOptions; logger: Logger },
  ): Promise<void> {
    try {
      const request = Object.assign(req, { params: { owner: hit.owner }, path: req.url ?? '' });
      const actor = (await resolveActor(request, options.auth)) ?? ANONYMOUS;
      setActor(request as never, actor);
      await hit.route.handle(request, res, hit.match, actor);
    } catch (err) {
      writeError(req, res, err, options.logger);
    }
  }
}
