/**
 * A store path whose NAR is one directory of `count` empty files (`f0000000`, …), made
 * without holding the NAR: its chunks are hashed and piped through `zstd` as they are
 * generated. A million entries are a 210 MB NAR and about 1 MB of zstd.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  narFileUrl,
  parseHash,
  parseStorePathBaseName,
  serializeNarInfo,
  sha256,
  type NarInfo,
} from '../../src/format/index.js';
import { manyEmptyFiles } from '../unit/format/many-files.js';
import { randomHashPart, type TestPath } from './support.js';

export async function hugeDirectoryPath(count: number, name = 'huge-dir-1.0'): Promise<TestPath> {
  const zstd = spawn('zstd', ['-c', '-q', '-3'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const out: Buffer[] = [];
  zstd.stdout.on('data', (b: Buffer) => out.push(b));
  const exited = new Promise<void>((resolve, reject) => zstd.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`zstd exited with ${code}`)))));
  const hash = createHash('sha256');
  let narSize = 0;
  for (const chunk of manyEmptyFiles(count)) {
    hash.update(chunk);
    narSize += chunk.length;
    if (!zstd.stdin.write(chunk)) await new Promise((resolve) => zstd.stdin.once('drain', resolve));
  }
  zstd.stdin.end();
  await exited;
  const file = Buffer.concat(out);
  const hashPart = randomHashPart();
  const storePath = parseStorePathBaseName(`${hashPart}-${name}`);
  const url = narFileUrl(sha256(file), 'zstd');
  const info: NarInfo = {
    storePath,
    url,
    compression: 'zstd',
    fileHash: sha256(file),
    fileSize: file.length,
    narHash: parseHash(`sha256:${hash.digest('hex')}`),
    narSize,
    references: [],
    sigs: [],
  };
  return {
    storePath,
    hashPart,
    baseName: storePath.baseName,
    nar: new Uint8Array(0),
    compression: 'zstd',
    file,
    fileName: url.slice('nar/'.length),
    url,
    info,
    narinfo: serializeNarInfo(info),
  };
}
