import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { isForgeError } from '@forge/core';
import type { Forge } from '../forge.js';
import { DUMP_PATH, serveDump } from '../backup/dump-over-socket.js';
import { adminCommands, isAdminCommand, type AdminArgs, type AdminOutput } from './commands.js';

/**
 * The answer is a stream of JSON lines: `{"progress":[done,total]}` while a long command
 * runs (at most a few a second), then one `{"status":…,"output":…,"exitCode":…}`.
 */
export interface AdminAnswer {
  status: number;
  output: string;
  exitCode: number;
}

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
    if (req.method === 'POST' && (req.url ?? '').split('?')[0] === DUMP_PATH) return serveDump(forge, req, res);
    const name = decodeURIComponent((req.url ?? '').replace(/^\/admin\//, ''));
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    let last = 0;
    const progress = (done: number, total: number) => {
      const now = Date.now();
      if (now - last < 200 && done < total) return;
      last = now;
      res.write(`${JSON.stringify({ progress: [done, total] })}\n`);
    };
    let answer: AdminAnswer;
    try {
      if (req.method !== 'POST' || !isAdminCommand(name)) throw Object.assign(new Error(`unknown admin command "${name}"`), { status: 404 });
      let body = '';
      for await (const chunk of req) body += chunk;
      const args = JSON.parse(body || '{}') as AdminArgs;
      answer = { status: 200, ...outputOf(await adminCommands[name](forge, args, progress)) };
    } catch (err) {
      const status = isForgeError(err) ? err.status : ((err as { status?: number }).status ?? 500);
      answer = { status, output: (err as Error).message, exitCode: 1 };
    }
    res.end(`${JSON.stringify(answer)}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(file, () => resolve());
  });
  await fs.chmod(file, 0o600);
  return server;
}

export function outputOf(result: AdminOutput): { output: string; exitCode: number } {
  return typeof result === 'string' ? { output: result, exitCode: 0 } : result;
}

/** Runs a command through a running server's socket; null when no server answers there. */
export async function callAdminSocket(
  dataDir: string,
  command: string,
  args: AdminArgs,
  onProgress?: (done: number, total: number) => void,
): Promise<AdminAnswer | null> {
  const socketPath = adminSocketPath(dataDir);
  try {
    await fs.access(socketPath);
  } catch {
    return null;
  }
  return new Promise((resolve) => {
    const req = http.request({ socketPath, path: `/admin/${encodeURIComponent(command)}`, method: 'POST' }, (res) => {
      let pending = '';
      let answer: AdminAnswer = { status: 500, output: 'the server ended the command without an answer', exitCode: 1 };
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        pending += c;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = JSON.parse(pending.slice(0, nl)) as { progress?: [number, number] } & Partial<AdminAnswer>;
          pending = pending.slice(nl + 1);
          if (line.progress) onProgress?.(line.progress[0], line.progress[1]);
          else answer = { status: line.status ?? 500, output: line.output ?? '', exitCode: line.exitCode ?? 1 };
        }
      });
      res.on('end', () => resolve(answer));
    });
    // A stale socket file (the server crashed) refuses connections: fall back to direct access.
    req.on('error', () => resolve(null));
    req.end(JSON.stringify(args));
  });
}
