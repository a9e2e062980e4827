import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Actor } from './owners.js';

/**
 * A read a package type answers so often that express's routing is a noticeable part of
 * its cost (a Nix cache's narinfo lookups). The host matches it before express: GET and
 * HEAD of `/api/packages/{owner}/{module id}/{rest}` where `rest` matches `pattern`,
 * after authentication, with the same error mapping and access log as every other route.
 */
export interface FastRoute {
  /** Matched against `rest`, the path after the module's prefix (no query string). */
  pattern: RegExp;
  /** The route as metrics and the access log name it, in express's syntax (`/:hash.narinfo`); default `pattern`'s source. */
  route?: string;
  /**
   * Answers the request. `req` carries `params.owner` (decoded), so the access guard works
   * on it as on an express request. Throwing a ForgeError answers with its status.
   */
  handle(req: IncomingMessage & { params: Record<string, string> }, res: ServerResponse, match: RegExpExecArray, actor: Actor): Promise<void>;
}
