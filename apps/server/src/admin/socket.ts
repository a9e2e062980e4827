import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { isForgeError } from '@forge/core';
import type { Forge } from '../forge.js';
import { adminCommands, isAdminCommand, type AdminArgs } from './commands.js';

/**
 * The admin socket: a Unix socket in the data directory (mode 0600, so only the account
 * running the server can use it) through which `forge admin …` reaches a running server.
 * The embedded database belongs to one process, so the CLI must not open it beside a
 * running server.
 */
export function adminSocketPath(dataDir: string): string {
  return path.join(dataDir, 'forge.sock');
}

export async function serveAdminSocket(forge: Forge): Promise<http.Server> {
  const file = adminSocketPath(forge.config.dataDir);
  await fs.mkdir(path.dirname(file), { recursive: true });
  await fs.rm(file, { force: true });
  const server = http.createServer(async (req, res) => {
    const name = decodeURIComponent((req.url ?? '').replace(/^\/admin\//, ''));
    try {
      if (req.method !== 'POST' || !isAdminCommand(name)) throw Object.assign(new Error(`unknown admin command "${name}"`), { status: 404 });
      let body = '';
      for await (const chunk of req) body += chunk;
      const args = JSON.parse(body || '{}') as AdminArgs;
      const output = await adminCommands[name](forge, args);
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end(output);
    } catch (err) {
      const status = isForgeError(err) ? err.status : ((err as { status?: number }).status ?? 500);
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' }).end((err as Error).message);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  await fs.chmod(file, 0o600);
  return server;
}

/** Runs a command through a running server's socket; null when no server answers there. */
export async function callAdminSocket(dataDir: string, command: string, args: AdminArgs): Promise<{ status: number; output: string } | null> {
  const socketPath = adminSocketPath(dataDir);
  try {
    await fs.access(socketPath);
  } catch {
    return null;
  }
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: `/admin/${encodeURIComponent(command)}`, method: 'POST' }, (res) => {
      let output = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (output += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 500, output }));
    });
    // A stale socket file (the server crashed) refuses connections: fall back to direct access.
    req.on('error', () => resolve(null));
    req.end(JSON.stringify(args));
  });
}
