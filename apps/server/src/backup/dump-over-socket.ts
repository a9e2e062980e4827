import { once } from 'node:events';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import type { Forge } from '../forge.js';
import { adminSocketPath } from '../admin/socket.js';
import { prepareDump } from './dump.js';

/**
 * `forge admin dump` against a running server: the server reads its own database (the
 * embedded one belongs to it) and streams the archive through the admin socket. The size
 * is known before the first byte (X-Forge-Dump-Size, for the progress bar); a failure
 * after the headers arrives in the X-Forge-Dump-Error trailer, and the CLI also checks
 * that it received exactly that many bytes.
 */
export const DUMP_PATH = '/dump';

export async function serveDump(forge: Forge, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const includeBlobs = new URL(req.url ?? '/', 'http://socket').searchParams.get('blobs') !== '0';
  let dump;
  try {
    dump = await prepareDump(
      { db: forge.db, blobs: forge.blobs, dataDir: forge.config.dataDir, secretFromEnv: Boolean(forge.config.secret) },
      { includeBlobs, spoolDir: spoolDirOf(forge.config.dataDir) },
    );
  } catch (err) {
    forge.logger.error('dump failed', { err: (err as Error).message });
    res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end((err as Error).message);
    return;
  }
  forge.logger.info('dump started', { tables: dump.manifest.tables.length, blobs: dump.manifest.blobs.count, bytes: dump.size });
  res.writeHead(200, { 'Content-Type': 'application/x-tar', 'X-Forge-Dump-Size': String(dump.size), Trailer: 'X-Forge-Dump-Error' });
  const body = new PassThrough();
  body.pipe(res, { end: false });
  res.on('close', () => body.destroy());
  try {
    await dump.writeTo(body);
    await finished(body);
    res.addTrailers({ 'X-Forge-Dump-Error': '' });
    forge.logger.info('dump sent', { bytes: dump.size });
  } catch (err) {
    forge.logger.error('dump failed', { err: (err as Error).message });
    res.addTrailers({ 'X-Forge-Dump-Error': (err as Error).message.replace(/[\r\n]+/g, ' ') });
  } finally {
    await dump.cleanup();
    res.end();
  }
}

/** Tables are spooled under the data directory: it has room for the data, /tmp may not. */
export const spoolDirOf = (dataDir: string) => path.join(dataDir, 'dump-spool');

/**
 * Asks a running server for a dump and writes it to `file` (through `file.partial`, renamed
 * only once complete). Returns false when no server answers on the socket.
 */
export async function fetchDumpFromServer(dataDir: string, file: string, includeBlobs: boolean, onProgress: (got: number, total: number) => void): Promise<boolean> {
  const socketPath = adminSocketPath(dataDir);
  if (!fs.existsSync(socketPath)) return false;
  const res = await new Promise<http.IncomingMessage | null>((resolve) => {
    const req = http.request({ socketPath, path: `${DUMP_PATH}?blobs=${includeBlobs ? 1 : 0}`, method: 'POST' }, resolve);
    req.on('error', () => resolve(null)); // a stale socket file: no server
    req.end();
  });
  if (!res) return false;
  if (res.statusCode !== 200) {
    let text = '';
    for await (const c of res) text += c;
    throw new Error(text || `the server answered ${res.statusCode}`);
  }
  const total = Number(res.headers['x-forge-dump-size']);
  const partial = `${file}.partial`;
  const out = fs.createWriteStream(partial, { mode: 0o600 });
  let got = 0;
  try {
    onProgress(0, total);
    for await (const chunk of res) {
      got += (chunk as Buffer).length;
      onProgress(got, total);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await finished(out);
    const error = res.trailers['x-forge-dump-error'];
    if (error) throw new Error(error);
    if (got !== total) throw new Error(`the server sent ${got} of ${total} bytes (see its log)`);
    fs.renameSync(partial, file);
    return true;
  } catch (err) {
    out.destroy();
    fs.rmSync(partial, { force: true });
    throw err;
  }
}
