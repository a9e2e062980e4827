/**
 * Helpers for the Nix cache's HTTP integration tests: NARs and narinfos built with the
 * format layer, compressed the way Nix compresses them, pushed over HTTP the way `nix copy`
 * pushes them (NAR, then narinfo), and checks that a refused upload left nothing behind.
 *
 * xz and zstd come from the command line tools (`apt-get install xz-utils zstd`; `.ci/run`
 * installs them), gzip from node:zlib.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import type { TestServer } from '@forge/server/testing';
import {
  encodeNix32,
  formatHash,
  narFileUrl,
  parseStorePathBaseName,
  serializeNarInfo,
  sha256,
  writeNar,
  type CompressionName,
  type NarInfo,
  type NarTree,
  type StorePath,
} from '../../src/format/index.js';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/nix-2.8');

export type TestCompression = 'none' | 'xz' | 'zstd' | 'gzip';

/** A random, valid store path hash part (32 Nix32 characters). */
export function randomHashPart(): string {
  return encodeNix32(randomBytes(20));
}

/** `sha256:<nix32>` → `<nix32>` */
export const nix32Of = (bytes: Uint8Array) => formatHash(sha256(bytes), 'nix32').slice('sha256:'.length);

const tools = new Map<string, boolean>();
function requireTool(tool: string): void {
  if (!tools.has(tool)) {
    let ok = true;
    try {
      execFileSync(tool, ['--version'], { stdio: 'ignore' });
    } catch {
      ok = false;
    }
    tools.set(tool, ok);
  }
  if (!tools.get(tool)) throw new Error(`the Nix integration tests need the \`${tool}\` command (apt-get install -y xz-utils zstd)`);
}

/** Compresses like Nix does for the given `Compression:` (xz and zstd with the real tools). */
export function compress(bytes: Uint8Array, compression: TestCompression): Buffer {
  switch (compression) {
    case 'none':
      return Buffer.from(bytes);
    case 'gzip':
      return gzipSync(bytes);
    case 'xz':
      requireTool('xz');
      return execFileSync('xz', ['-c', '-z', '-6', '--check=crc64'], { input: bytes, maxBuffer: 1 << 30 });
    case 'zstd':
      requireTool('zstd');
      return execFileSync('zstd', ['-c', '-q', '-3'], { input: bytes, maxBuffer: 1 << 30 });
  }
}

/** A small tree with a file, an executable and a symlink; `salt` makes its NAR unique. */
export function sampleTree(salt = randomBytes(8).toString('hex'), extraBytes = 0): NarTree {
  return {
    type: 'directory',
    entries: {
      bin: { type: 'directory', entries: { tool: { type: 'regular', executable: true, contents: `#!/bin/sh\necho ${salt}\n` } } },
      'data.txt': { type: 'regular', contents: `salt ${salt}\n` + 'x'.repeat(extraBytes) },
      link: { type: 'symlink', target: 'bin/tool' },
    },
  };
}

/** One store path ready to push: its NAR, the file as uploaded, and its narinfo. */
export interface TestPath {
  storePath: StorePath;
  hashPart: string;
  baseName: string;
  nar: Uint8Array;
  compression: TestCompression;
  /** The bytes of the NAR file as uploaded (compressed). */
  file: Buffer;
  /** `<nix32>.nar[.ext]` */
  fileName: string;
  /** `nar/<fileName>` */
  url: string;
  info: NarInfo;
  /** `serializeNarInfo(info)` */
  narinfo: string;
}

export interface MakePathOptions {
  name?: string;
  hashPart?: string;
  tree?: NarTree;
  nar?: Uint8Array;
  compression?: TestCompression;
  references?: Array<TestPath | string>;
  selfReference?: boolean;
  deriver?: string;
  sigs?: string[];
}

export function makePath(options: MakePathOptions = {}): TestPath {
  const hashPart = options.hashPart ?? randomHashPart();
  const storePath = parseStorePathBaseName(`${hashPart}-${options.name ?? 'test-path-1.0'}`);
  const nar = options.nar ?? writeNar(options.tree ?? sampleTree());
  const compression = options.compression ?? 'xz';
  const file = compress(nar, compression);
  const url = narFileUrl(sha256(file), compression as CompressionName);
  const references = (options.references ?? []).map((r) => (typeof r === 'string' ? parseStorePathBaseName(r) : r.storePath));
  if (options.selfReference) references.push(storePath);
  const info: NarInfo = {
    storePath,
    url,
    compression: compression as CompressionName,
    fileHash: sha256(file),
    fileSize: file.length,
    narHash: sha256(nar),
    narSize: nar.length,
    references,
    ...(options.deriver ? { deriver: parseStorePathBaseName(options.deriver) } : {}),
    sigs: options.sigs ?? [],
  };
  return {
    storePath,
    hashPart,
    baseName: storePath.baseName,
    nar,
    compression,
    file,
    fileName: url.slice('nar/'.length),
    url,
    info,
    narinfo: serializeNarInfo(info),
  };
}

/** The same path with a different narinfo (e.g. extra signatures), re-serialised. */
export function withInfo(p: TestPath, changes: Partial<NarInfo>): TestPath {
  const info = { ...p.info, ...changes };
  return { ...p, info, narinfo: serializeNarInfo(info) };
}

/** Talks to one owner's cache over HTTP. */
export class CacheClient {
  constructor(
    readonly t: TestServer,
    readonly owner: string,
    readonly authorization?: string,
  ) {}

  get base(): string {
    return `${this.t.url}/api/packages/${this.owner}/nix`;
  }

  as(authorization: string | undefined): CacheClient {
    return new CacheClient(this.t, this.owner, authorization);
  }

  of(owner: string): CacheClient {
    return new CacheClient(this.t, owner, this.authorization);
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.authorization ? { authorization: this.authorization } : {}), ...extra };
  }

  fetch(rest: string, init: RequestInit & { headers?: Record<string, string> } = {}): Promise<Response> {
    return fetch(`${this.base}/${rest}`, { ...init, headers: this.headers(init.headers) });
  }

  get(rest: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(rest, { headers });
  }

  head(rest: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(rest, { method: 'HEAD', headers });
  }

  put(rest: string, body: BodyInit | Uint8Array, contentType = 'application/octet-stream', headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(rest, { method: 'PUT', body: body as BodyInit, headers: { 'content-type': contentType, ...headers } });
  }

  delete(rest: string): Promise<Response> {
    return this.fetch(rest, { method: 'DELETE' });
  }

  putNar(p: Pick<TestPath, 'fileName' | 'file'>): Promise<Response> {
    return this.put(`nar/${p.fileName}`, p.file, 'application/x-nix-nar');
  }

  putNarInfo(p: Pick<TestPath, 'hashPart' | 'narinfo'>, text = p.narinfo): Promise<Response> {
    return this.put(`${p.hashPart}.narinfo`, text, 'text/x-nix-narinfo');
  }

  /** NAR then narinfo, as `nix copy` does; both must succeed. */
  async push(...paths: TestPath[]): Promise<void> {
    for (const p of paths) {
      const nar = await this.putNar(p);
      expect(nar.status, `PUT ${p.url}: ${await nar.clone().text()}`).toBe(201);
      const info = await this.putNarInfo(p);
      expect([200, 201], `PUT ${p.hashPart}.narinfo: ${await info.clone().text()}`).toContain(info.status);
    }
  }

  async narinfo(hashPart: string): Promise<string> {
    const res = await this.get(`${hashPart}.narinfo`);
    expect(res.status, await res.clone().text()).toBe(200);
    return res.text();
  }

  /** Settings API under /-/. */
  admin(rest: string, init: { method?: string; json?: unknown; body?: string; contentType?: string } = {}): Promise<Response> {
    const headers: Record<string, string> = {};
    let body: string | undefined = init.body;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    } else if (body !== undefined) headers['content-type'] = init.contentType ?? 'text/plain';
    return this.fetch(`-/${rest}`, { method: init.method ?? 'GET', body, headers });
  }

  async publicKey(): Promise<string> {
    const res = await this.admin('public-key');
    expect(res.status).toBe(200);
    return (await res.text()).trim();
  }
}

/** A raw HTTP exchange (no automatic decoding, full control of the headers). */
export function rawRequest(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: Uint8Array | string },
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/**
 * A PUT with `Expect: 100-continue`: whether the server said 100 Continue before its final
 * answer. The body is only sent after a 100.
 */
export function putExpectingContinue(
  url: string,
  body: Uint8Array | string,
  headers: Record<string, string> = {},
  method = 'PUT',
): Promise<{ status: number; continued: boolean; text: string }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = http.request(url, {
      method,
      headers: { expect: '100-continue', 'content-length': String(Buffer.byteLength(body)), ...headers },
    });
    // A server that waits for the body before answering would wait forever (curl gives up
    // waiting for the 100 after a second and sends it anyway; this client does not).
    const timer = setTimeout(() => {
      resolve({ status: -1, continued, text: 'no answer within 5 s' });
      req.destroy();
    }, 5_000);
    req.on('continue', () => {
      continued = true;
      req.end(body);
    });
    req.on('response', (res) => {
      clearTimeout(timer);
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, continued, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.flushHeaders();
  });
}

/** Rows of the tables an upload may write, for "nothing was left behind" checks. */
export const UPLOAD_TABLES = ['package', 'package_version', 'package_file', 'package_blob', 'package_owner_file', 'nix_store_path', 'nix_reference', 'nix_cache'] as const;

export async function rowCounts(t: TestServer): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of UPLOAD_TABLES) {
    counts[table] = Number((await t.forge.db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);
  }
  return counts;
}

export async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string) {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await fs.readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  }
  await walk(dir);
  return out;
}

export const blobRoot = (t: TestServer) => (t.forge.config.storage as { path: string }).path;
export const tmpFiles = (t: TestServer) => filesUnder(path.join(blobRoot(t), 'tmp'));
export const blobFiles = (t: TestServer) => filesUnder(path.join(blobRoot(t), 'blobs'));

/** Waits until `check` passes (for cleanup that happens after a response or a disconnect). */
export async function eventually(check: () => Promise<void> | void, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

/**
 * Runs `refuse` (an upload that must be refused) and checks that no row of any upload
 * table and no staging file stayed behind.
 */
export async function expectNothingLeft(t: TestServer, refuse: () => Promise<void>): Promise<void> {
  const before = await rowCounts(t);
  await refuse();
  expect(await rowCounts(t)).toEqual(before);
  await eventually(async () => expect(await tmpFiles(t)).toEqual([]));
}

/** Expects a 400 whose message matches. */
export async function expect400(res: Response | Promise<Response>, message: RegExp): Promise<string> {
  const r = await res;
  const text = await r.text();
  if (process.env.SHOW400) console.log('400:', text.trim());
  expect(r.status, text).toBe(400);
  expect(text).toMatch(message);
  return text;
}
