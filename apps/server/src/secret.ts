import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * The server secret seals owner signing keys and signs UI sessions. From FORGE_SECRET
 * when set (required when several processes share one database), otherwise generated
 * once into `<dataDir>/secret.key` with mode 0600.
 */
export async function loadServerSecret(configured: string | undefined, dataDir: string): Promise<Buffer> {
  if (configured) return decodeSecret(configured, 'FORGE_SECRET');
  const file = path.join(dataDir, 'secret.key');
  try {
    return decodeSecret((await fs.readFile(file, 'utf8')).trim(), file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await fs.mkdir(dataDir, { recursive: true });
  const secret = randomBytes(32);
  try {
    await fs.writeFile(file, secret.toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
    return secret;
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return decodeSecret((await fs.readFile(file, 'utf8')).trim(), file);
    throw err;
  }
}

export function decodeSecret(value: string, source: string): Buffer {
  const buf = /^[0-9a-fA-F]+$/.test(value) && value.length % 2 === 0 ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (buf.length < 32) throw new Error(`${source}: the server secret must be at least 32 bytes (64 hex characters)`);
  return buf;
}
