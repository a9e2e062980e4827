/**
 * Synthetic store paths uploaded over plain HTTP, as `nix copy` would (PUT nar, PUT
 * narinfo): a single-file NAR whose content is an AES-CTR keystream (deterministic, fast,
 * incompressible), streamed twice — once to hash it, once to upload it — so no NAR is ever
 * held in memory, by the client either.
 */
import { createCipheriv, createHash } from 'node:crypto';
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { format } from '@forge/module-nix';

const CHUNK = 1 << 20;

function narString(s: string): Buffer {
  const body = Buffer.from(s);
  const out = Buffer.alloc(8 + Math.ceil(body.length / 8) * 8);
  out.writeBigUInt64LE(BigInt(body.length));
  body.copy(out, 8);
  return out;
}

/** The NAR of one regular file of `size` bytes: header, content, padding, trailer. */
export function* singleFileNar(size: number, seed: string): Generator<Buffer> {
  yield Buffer.concat([narString('nix-archive-1'), narString('('), narString('type'), narString('regular'), narString('contents')]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(size));
  yield len;
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(CHUNK);
  for (let left = size; left > 0; left -= CHUNK) {
    yield cipher.update(left >= CHUNK ? zeros : zeros.subarray(0, left));
  }
  yield Buffer.concat([Buffer.alloc((8 - (size % 8)) % 8), narString(')')]);
}

export function narSizeOf(size: number): number {
  let n = 0;
  for (const s of ['nix-archive-1', '(', 'type', 'regular', 'contents']) n += 8 + Math.ceil(Buffer.byteLength(s) / 8) * 8;
  return n + 8 + Math.ceil(size / 8) * 8 + 16;
}

/** A valid store path hash part derived from a name. */
export function hashPartFor(name: string): string {
  return format.encodeNix32(createHash('sha256').update(`forge-bench:${name}`).digest().subarray(0, 20));
}

function put(url: string, token: string, body: Readable | Buffer, length: number, contentType: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method: 'PUT',
      headers: { 'Content-Length': String(length), 'Content-Type': contentType, Authorization: `Basic ${Buffer.from(`:${token}`).toString('base64')}` },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => (res.statusCode! < 300 ? resolve(res.statusCode!) : reject(new Error(`PUT ${url}: ${res.statusCode} ${text}`))));
    });
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else pipeline(body, req).catch(reject);
  });
}

export interface UploadedPath {
  hashPart: string;
  name: string;
  narSize: number;
  narHash: string;
  url: string;
  /** Milliseconds of the NAR PUT alone. */
  narPutMs: number;
  /** Milliseconds of the narinfo PUT alone. */
  narinfoPutMs: number;
}

/** Uploads a synthetic single-file path (compression none) to `cacheUrl`. */
export async function uploadSyntheticPath(cacheUrl: string, token: string, name: string, contentSize: number, hooks: { beforeNarPut?: () => void; afterNarPut?: () => void } = {}): Promise<UploadedPath> {
  const hash = createHash('sha256');
  let narSize = 0;
  for (const chunk of singleFileNar(contentSize, name)) {
    hash.update(chunk);
    narSize += chunk.length;
  }
  if (narSize !== narSizeOf(contentSize)) throw new Error('NAR size mismatch in the generator');
  const nix32 = format.encodeNix32(hash.digest());
  const hashPart = hashPartFor(name);
  const url = `nar/${nix32}.nar`;
  hooks.beforeNarPut?.();
  const t0 = performance.now();
  await put(`${cacheUrl}/${url}`, token, Readable.from(singleFileNar(contentSize, name), { objectMode: false, highWaterMark: CHUNK }), narSize, 'application/x-nix-nar');
  const narPutMs = performance.now() - t0;
  hooks.afterNarPut?.();
  const narinfo =
    `StorePath: /nix/store/${hashPart}-${name}\nURL: ${url}\nCompression: none\nFileHash: sha256:${nix32}\nFileSize: ${narSize}\n` +
    `NarHash: sha256:${nix32}\nNarSize: ${narSize}\nReferences: \n`;
  const t1 = performance.now();
  await put(`${cacheUrl}/${hashPart}.narinfo`, token, Buffer.from(narinfo), Buffer.byteLength(narinfo), 'text/x-nix-narinfo');
  return { hashPart, name, narSize, narHash: nix32, url, narPutMs, narinfoPutMs: performance.now() - t1 };
}
