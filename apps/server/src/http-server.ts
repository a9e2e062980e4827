import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The HTTP server around the app. Uploads of many GiB take long, so there is no overall
 * request timeout; idle connections are kept longer than typical proxies' 60 s.
 */
export async function listen(handler: http.RequestListener, port: number, host: string): Promise<http.Server> {
  const server = http.createServer({ requestTimeout: 0, headersTimeout: 60_000, keepAliveTimeout: 65_000 }, handler);
  // `Expect: 100-continue`: package uploads get their 100 only once the access guard has
  // admitted the caller, so a refused PUT is answered before its body is sent. Everything
  // else continues at once.
  server.on('checkContinue', (req, res) => {
    if (!req.url?.startsWith('/api/packages/')) res.writeContinue();
    server.emit('request', req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function boundPort(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Give in-flight requests a moment, then cut the rest.
    setTimeout(() => server.closeAllConnections(), 5_000).unref();
  });
}
