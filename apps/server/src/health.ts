import type { Express, Response } from 'express';
import type { DataSource } from 'typeorm';

/** Whether the server is stopping: readiness turns false so proxies and orchestrators send nothing new. */
export class ServerState {
  draining = false;
}

/**
 * Health probes, both without authentication and (by default) without access-log lines:
 * - `/healthz`: `{"status":"ok"}` when the database answers; 503 `{"status":"draining"}`
 *   once the server is stopping (the readiness a load balancer or Kubernetes polls).
 * - `/api/healthz`: Gitea's shape (`application/health+json`, IETF health check draft):
 *   `status` pass or fail, and `checks` with `database:ping` and `server:ready`. Gitea
 *   answers a failed dependency with 424; while draining it is 503 (nothing failed, the
 *   server is going away).
 */
export function healthRoutes(app: Express, ds: DataSource, state: ServerState): void {
  app.get('/healthz', async (_req, res) => {
    noStore(res);
    if (state.draining) {
      res.status(503).json({ status: 'draining' });
      return;
    }
    await ds.query('SELECT 1');
    res.json({ status: 'ok' });
  });

  app.get('/api/healthz', async (_req, res) => {
    noStore(res);
    const time = new Date().toISOString();
    let database: { status: 'pass' | 'fail'; time: string; output?: string };
    try {
      await ds.query('SELECT 1');
      database = { status: 'pass', time };
    } catch (err) {
      database = { status: 'fail', time, output: (err as Error).message };
    }
    const ready = state.draining ? { status: 'fail' as const, time, output: 'the server is stopping' } : { status: 'pass' as const, time };
    const pass = database.status === 'pass' && ready.status === 'pass';
    res
      .status(pass ? 200 : state.draining ? 503 : 424)
      .type('application/health+json')
      .send(
        JSON.stringify({
          status: pass ? 'pass' : 'fail',
          description: 'Forge package registry',
          checks: { 'database:ping': [database], 'server:ready': [ready] },
        }),
      );
  });
}

function noStore(res: Response): void {
  res.set('Cache-Control', 'no-store');
}
