import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener } from 'node:http';
import type { Socket } from 'node:net';
import type { Request } from 'express';
import { getActor } from '@forge/auth';
import { secondsSince, type Logger, type Metrics } from '@forge/core';

/**
 * Around every request, once (the fast lane and express alike): the request id, the
 * access-log line and the HTTP metrics. Labels and log lines name the **route pattern**
 * (`/api/packages/:owner/nix/nar/:file`), never the raw URL, so a scanner walking random
 * paths cannot grow the metrics without bound.
 */
export interface RequestObserverOptions {
  logger: Logger;
  /** One line per request (`FORGE_ACCESS_LOG`). */
  accessLog: boolean;
  /** Health probes and scrapes logged too (`FORGE_ACCESS_LOG_PROBES`; default off: a probe every few seconds drowns the log). */
  logProbes: boolean;
  metrics: Metrics;
  clientAddress: (req: IncomingMessage) => string;
}

/** Paths that monitoring polls: not access-logged unless asked for. */
const PROBE_PATHS = new Set(['/healthz', '/api/healthz', '/metrics']);

const requestIds = new WeakMap<IncomingMessage, string>();
const routePatterns = new WeakMap<IncomingMessage, string>();
const routePrefixes = new WeakMap<IncomingMessage, string>();
const socketMarks = new WeakMap<Socket, { read: number; written: number }>();

/** The request's id (`X-Request-Id` as sent by a proxy, or one made here). */
export function requestIdOf(req: IncomingMessage): string | undefined {
  return requestIds.get(req);
}

/** Names the route a request matched, for routes express does not know (the fast lane). */
export function setRoutePattern(req: IncomingMessage, pattern: string): void {
  routePatterns.set(req, pattern);
}

/** The mount pattern of the router a request entered (`/api/packages/:owner/nix`): express's own `req.baseUrl` is the concrete path. */
export function setRoutePrefix(req: IncomingMessage, prefix: string): void {
  routePrefixes.set(req, prefix);
}

/** A proxy's id is kept when it is plain and short; anything else is replaced (it goes into logs). */
const ACCEPTABLE_ID = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function observeRequests(handler: RequestListener, options: RequestObserverOptions): RequestListener {
  const { metrics, logger } = options;
  const requests = metrics.counter({ name: 'forge_http_requests_total', help: 'HTTP requests answered, by method, route pattern and status', labelNames: ['method', 'route', 'status'] });
  const duration = metrics.histogram({
    name: 'forge_http_request_duration_seconds',
    help: 'Time from the request line to the last byte of the answer, by method and route pattern',
    labelNames: ['method', 'route'],
    // Narinfo lookups take a millisecond; NAR transfers minutes.
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  });
  const received = metrics.counter({ name: 'forge_http_received_bytes_total', help: 'Request bytes received (headers and bodies), by route pattern', labelNames: ['route'] });
  const sent = metrics.counter({ name: 'forge_http_sent_bytes_total', help: 'Response bytes sent (headers and bodies), by route pattern', labelNames: ['route'] });

  return (req, res) => {
    const start = process.hrtime.bigint();
    const offered = req.headers['x-request-id'];
    const id = typeof offered === 'string' && ACCEPTABLE_ID.test(offered) ? offered : randomUUID();
    requestIds.set(req, id);
    res.setHeader('X-Request-Id', id);
    const socket = req.socket;
    res.once('close', () => {
      const route = routeOf(req);
      const method = req.method ?? 'OTHER';
      const status = String(res.statusCode);
      // Bytes on the wire, headers included: what the connection carried since the
      // previous request on it ended (keep-alive requests follow each other; Node reads a
      // small body together with its headers, before this request's handler runs).
      const mark = socketMarks.get(socket) ?? { read: 0, written: 0 };
      const bytesIn = Math.max(0, socket.bytesRead - mark.read);
      const bytesOut = Math.max(0, socket.bytesWritten - mark.written);
      socketMarks.set(socket, { read: socket.bytesRead, written: socket.bytesWritten });
      const seconds = secondsSince(start);
      requests.inc({ method, route, status });
      duration.observe({ method, route }, seconds);
      received.inc({ route }, bytesIn);
      sent.inc({ route }, bytesOut);
      if (!options.accessLog) return;
      const path = pathOf(req.url ?? '');
      if (!options.logProbes && PROBE_PATHS.has(path)) return;
      const actor = getActor(req as Request);
      logger.info('request', {
        id,
        method,
        url: (req as { originalUrl?: string }).originalUrl ?? req.url,
        route,
        status: res.statusCode,
        ms: seconds * 1000,
        address: options.clientAddress(req),
        user: actor.user?.name,
        bytesIn,
        bytesOut,
        aborted: !res.writableFinished,
      });
    });
    handler(req, res);
  };
}

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : url.slice(0, q);
}

/** The pattern of the route that answered; `unmatched` when none did (a 404, or a refusal before routing). */
function routeOf(req: IncomingMessage): string {
  const named = routePatterns.get(req);
  if (named) return named;
  const route = (req as { route?: { path?: unknown } }).route;
  if (route && route.path !== undefined) return (routePrefixes.get(req) ?? '') + String(route.path);
  return 'unmatched';
}
