import type { Express } from 'express';

/** One route the express app answers: its method and its full path pattern (`/api/v1/packages/:owner`). */
export interface RouteEntry {
  method: string;
  path: string;
}

interface LayerLike {
  rawPath?: unknown;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle?: { stack?: LayerLike[]; [MOUNTED]?: { stack?: LayerLike[] } };
}

/**
 * The key under which `onlyUnder` (forge.ts) keeps the router it wraps, so the route
 * table can look inside it.
 */
export const MOUNTED = Symbol.for('forge.mountedRouter');

/**
 * Every route of the app, read from express's own router stack (nested routers included):
 * the real table, which the OpenAPI document is checked against so it cannot drift.
 */
export function routeTable(app: Express): RouteEntry[] {
  const routes: RouteEntry[] = [];
  const walk = (stack: LayerLike[], prefix: string) => {
    for (const layer of stack) {
      const raw = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
      if (layer.route) {
        const path = typeof layer.route.path === 'string' ? layer.route.path : String(layer.route.path);
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (on && method !== '_all') routes.push({ method: method.toUpperCase(), path: prefix + path });
        }
        continue;
      }
      const inner = layer.handle?.stack ?? layer.handle?.[MOUNTED]?.stack;
      if (inner) walk(inner, prefix + raw);
    }
  };
  walk((app as unknown as { router: { stack: LayerLike[] } }).router.stack, '');
  return routes;
}
