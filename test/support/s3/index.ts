/**
 * An S3-protocol server on a loopback port for tests and benchmarks: `s3rver` (a fake S3
 * in Node that stores objects as files), with what it lacks for our purposes added in
 * front of its routes, each following the S3 API reference:
 *
 * - **SigV4 verification.** s3rver accepts any V4 signature from a known access key id
 *   ("Signature version 4 calculation is unimplemented"), so a wrong secret or a broken
 *   presigned URL would pass. Every request signed in the header or the query is checked
 *   here with the SDK's own signer (`@smithy/signature-v4`) and refused as S3 does
 *   (`SignatureDoesNotMatch`, `InvalidAccessKeyId`, expired presigned URLs).
 * - **AbortMultipartUpload** and **ListMultipartUploads**, over s3rver's own upload
 *   directories (s3rver answers MethodNotAllowed / NotImplemented).
 * - A fix of its ranged reads (`bytes=0-0` is one byte, not the whole object).
 * - **Fault injection** (`failNext`) and a **request log**, so tests can break an upload
 *   midway and see what a client really sent (e.g. credentials Nix added to a redirect).
 *
 * Run it as a process with `node --import tsx test/support/s3/cli.ts` (prints its address).
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';

const require = createRequire(import.meta.url);
// s3rver ships no types; these are the parts we use.
type KoaContext = {
  method: string;
  req: import('node:http').IncomingMessage;
  headers: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
  set(name: string, value: string): void;
};
type KoaMiddleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rverInstance {
  middleware: KoaMiddleware[];
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
const S3rver = require('s3rver') as new (options: Record<string, unknown>) => S3rverInstance;
const S3Error = require('s3rver/lib/models/error') as new (code: string, message: string, detail?: Record<string, unknown>) => Error & { status: number };

/**
 * s3rver reads `Range: bytes=0-0` as the whole object (`options.end || Infinity`); S3
 * answers one byte. Its filesystem store's getObject, with `??` where it had `||`.
 */
const FilesystemStore = require('s3rver/lib/stores/filesystem') as { prototype: Record<string, unknown> };
const S3Object = require('s3rver/lib/models/object') as new (bucket: string, key: string, content: unknown, metadata: Record<string, string>) => { range?: unknown };
const { createReadStream } = require('node:fs') as typeof import('node:fs');
FilesystemStore.prototype.getObject = async function getObject(
  this: { getMetadata(b: string, k: string): Promise<Record<string, string>>; getResourcePath(b: string, k: string, r: string): string },
  bucket: string,
  key: string,
  options?: { start?: number; end?: number },
) {
  try {
    const metadata = await this.getMetadata(bucket, key);
    const lastByte = Math.max(0, Number(metadata['content-length']) - 1);
    const range = { start: options?.start ?? 0, end: Math.min(options?.end ?? Infinity, lastByte) };
    const ranged = options !== undefined && (options.start !== undefined || options.end !== undefined);
    if (range.start < 0 || range.end < range.start) {
      const object = new S3Object(bucket, key, null, metadata);
      if (ranged) object.range = range;
      return object;
    }
    const content = await new Promise((resolve, reject) => {
      const stream = createReadStream(this.getResourcePath(bucket, key, 'object'), range)
        .on('error', reject)
        .on('open', () => resolve(stream));
    });
    const object = new S3Object(bucket, key, content, metadata);
    if (ranged) object.range = range;
    return object;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
};

/** s3rver's fixed key pair; its own middleware knows no other access key id. */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';

export interface S3ServerOptions {
  /** Where objects are kept (default: a new temporary directory, removed on close). */
  dir?: string;
  /** Buckets created at start. Default `['forge-test']`. */
  buckets?: string[];
  region?: string;
  port?: number;
  /** Print s3rver's log. */
  verbose?: boolean;
}

export interface RecordedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  status: number;
}

export interface Fault {
  /** Which request fails, e.g. `(r) => r.method === 'PUT' && r.query.has('partNumber')`. */
  match: (request: { method: string; path: string; query: URLSearchParams }) => boolean;
  /** S3 error code to answer with (default `InternalError`, 500). */
  code?: string;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Instead of an error answer, drop the connection. */
  hangUp?: boolean;
  /** Instead of failing, hold the request this long and then serve it. */
  delayMs?: number;
}

export interface S3TestServer {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  port: number;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  /** Every request received, in order. */
  requests: RecordedRequest[];
  failNext(fault: Fault): void;
  /** Forgets every pending fault. */
  clearFaults(): void;
  /** Keys of multipart uploads begun and neither completed nor aborted. */
  multipartUploads(bucket?: string): Promise<string[]>;
  /** Keys of stored objects (from s3rver's directory). */
  objectKeys(bucket?: string): Promise<string[]>;
  close(): Promise<void>;
}

const UPLOADS_DIR = '._S3rver_uploads';
const OBJECT_SUFFIX = '._S3rver_object';

export async function startS3Server(options: S3ServerOptions = {}): Promise<S3TestServer> {
  const ownDir = !options.dir;
  const dir = options.dir ?? (await mkdtemp(path.join(tmpdir(), 'forge-s3-')));
  const buckets = options.buckets ?? ['forge-test'];
  const region = options.region ?? 'us-east-1';
  const secrets = new Map([[S3RVER_ACCESS_KEY_ID, S3RVER_SECRET_ACCESS_KEY]]);
  const requests: RecordedRequest[] = [];
  const faults: Array<Required<Omit<Fault, 'hangUp' | 'delayMs'>> & { hangUp: boolean; delayMs: number }> = [];

  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    silent: !options.verbose,
    directory: dir,
    configureBuckets: buckets.map((name) => ({ name })),
  });

  const front: KoaMiddleware = async (ctx, next) => {
    const url = new URL(ctx.req.url ?? '/', 'http://s3.invalid');
    const record: RecordedRequest = { method: ctx.method, url: ctx.req.url ?? '/', headers: { ...ctx.req.headers }, status: 0 };
    requests.push(record);
    try {
      const fault = faults.find((f) => f.match({ method: ctx.method, path: url.pathname, query: url.searchParams }));
      if (fault) {
        if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
        if (fault.delayMs > 0) {
          await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
        } else if (fault.hangUp) {
          ctx.req.socket.destroy();
          return;
        } else {
          throw new S3Error(fault.code, `injected fault (${fault.code})`);
        }
      }
      await verifySignature(ctx, url, secrets);
      const [, bucket, ...keyParts] = url.pathname.split('/');
      const key = keyParts.map(decodeURIComponent).join('/');
      if (ctx.method === 'DELETE' && bucket && key && url.searchParams.has('uploadId')) {
        await abortMultipartUpload(dir, bucket, url.searchParams.get('uploadId')!);
        ctx.status = 204;
        return;
      }
      if (ctx.method === 'GET' && bucket && !key && url.searchParams.has('uploads')) {
        ctx.type = 'application/xml';
        ctx.body = await listMultipartUploads(dir, bucket, url.searchParams.get('prefix') ?? '');
        return;
      }
      await next();
    } finally {
      record.status = ctx.status;
    }
  };
  // After s3rver's logging, XML and vhost middleware, before its router.
  server.middleware.splice(server.middleware.length - 1, 0, front);

  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    port: address.port,
    region,
    bucket: buckets[0]!,
    accessKeyId: S3RVER_ACCESS_KEY_ID,
    secretAccessKey: S3RVER_SECRET_ACCESS_KEY,
    dir,
    requests,
    failNext: (fault) => faults.push({ code: 'InternalError', times: 1, hangUp: false, delayMs: 0, ...fault }),
    clearFaults: () => void faults.splice(0),
    multipartUploads: async (bucket = buckets[0]!) => (await uploadsOf(dir, bucket)).map((u) => u.key),
    objectKeys: async (bucket = buckets[0]!) => objectKeysIn(path.join(dir, bucket), ''),
    close: async () => {
      await server.close();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}

// ---- SigV4 (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-authenticating-requests.html) ----

const QUERY_AUTH_PARAMS = ['X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Security-Token'];

async function verifySignature(ctx: KoaContext, url: URL, secrets: Map<string, string>): Promise<void> {
  const authorization = typeof ctx.headers.authorization === 'string' ? ctx.headers.authorization : undefined;
  const presigned = url.searchParams.get('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256';
  if (authorization && presigned) {
    // What S3 answers when a client adds its own Authorization header to a presigned URL.
    throw new S3Error('InvalidArgument', 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', {
      ArgumentName: 'Authorization',
      ArgumentValue: authorization,
    });
  }
  if (authorization && !authorization.startsWith('AWS4-HMAC-SHA256 ')) {
    // s3rver also accepts V2 signatures, which it verifies itself; anything else is refused by it.
    return;
  }
  if (!authorization && !presigned) return; // anonymous: s3rver's bucket rules decide

  let credential: string;
  let signedHeaders: string[];
  let provided: string;
  let amzDate: string;
  if (authorization) {
    const fields = new Map(
      authorization
        .slice('AWS4-HMAC-SHA256 '.length)
        .split(',')
        .map((part) => part.trim().split('=') as [string, string]),
    );
    credential = fields.get('Credential') ?? '';
    signedHeaders = (fields.get('SignedHeaders') ?? '').split(';');
    provided = fields.get('Signature') ?? '';
    amzDate = String(ctx.headers['x-amz-date'] ?? '');
  } else {
    credential = url.searchParams.get('X-Amz-Credential') ?? '';
    signedHeaders = (url.searchParams.get('X-Amz-SignedHeaders') ?? '').split(';');
    provided = url.searchParams.get('X-Amz-Signature') ?? '';
    amzDate = url.searchParams.get('X-Amz-Date') ?? '';
  }
  const [accessKeyId, , region, service] = credential.split('/');
  const secret = accessKeyId ? secrets.get(accessKeyId) : undefined;
  if (!secret) throw new S3Error('InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.', { AWSAccessKeyId: accessKeyId ?? '' });
  const signingDate = parseAmzDate(amzDate);
  if (!signingDate) throw new S3Error('AccessDenied', 'AWS authentication requires a valid Date or x-amz-date header');

  const headers: Record<string, string> = {};
  for (const name of signedHeaders) {
    const value = ctx.req.headers[name];
    if (value === undefined) throw new S3Error('AccessDenied', `There were headers present in the request which were not signed (${name} missing)`);
    headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of url.searchParams) {
    if (presigned && (QUERY_AUTH_PARAMS.includes(k) || k === 'X-Amz-Content-Sha256')) continue;
    const existing = query[k];
    query[k] = existing === undefined ? v : ([] as string[]).concat(existing, v);
  }
  const [hostname, port] = (headers.host ?? String(ctx.req.headers.host ?? '')).split(':');
  const request = {
    method: ctx.method,
    protocol: 'http:',
    hostname: hostname!,
    port: port ? Number(port) : undefined,
    path: url.pathname,
    query,
    headers,
  };
  const signer = new SignatureV4({
    credentials: { accessKeyId: accessKeyId!, secretAccessKey: secret },
    region: region ?? 'us-east-1',
    service: service ?? 's3',
    sha256: NodeSha256,
    uriEscapePath: false,
    applyChecksum: false,
  });
  let expected: string;
  if (presigned) {
    const expiresIn = Number(url.searchParams.get('X-Amz-Expires'));
    if (!(expiresIn > 0) || signingDate.getTime() + expiresIn * 1000 < Date.now()) {
      throw new S3Error('AccessDenied', 'Request has expired', { 'X-Amz-Expires': String(expiresIn) });
    }
    // Query-authenticated requests sign "UNSIGNED-PAYLOAD", named in the query by the SDK.
    const payload = url.searchParams.get('X-Amz-Content-Sha256') ?? 'UNSIGNED-PAYLOAD';
    const signed = await signer.presign(
      { ...request, headers: { ...headers, 'X-Amz-Content-Sha256': payload } },
      { signingDate, expiresIn },
    );
    expected = String(signed.query?.['X-Amz-Signature'] ?? '');
  } else {
    if (Math.abs(Date.now() - signingDate.getTime()) > 15 * 60 * 1000) {
      throw new S3Error('RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.');
    }
    const signed = await signer.sign(request, { signingDate });
    expected = /Signature=([0-9a-f]+)/.exec(String(signed.headers.authorization ?? signed.headers.Authorization ?? ''))?.[1] ?? '';
  }
  if (expected !== provided) {
    throw new S3Error('SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', {
      AWSAccessKeyId: accessKeyId!,
    });
  }
}

function parseAmzDate(value: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return null;
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

/** The SDK's Checksum interface over node:crypto (an HMAC when given a secret). */
class NodeSha256 {
  #hash: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  readonly #secret?: Uint8Array | string;
  constructor(secret?: Uint8Array | string) {
    this.#secret = secret;
    this.#hash = this.#fresh();
  }
  #fresh() {
    return this.#secret === undefined ? createHash('sha256') : createHmac('sha256', this.#secret);
  }
  update(data: Uint8Array | string): void {
    this.#hash.update(data);
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }
  reset(): void {
    this.#hash = this.#fresh();
  }
}

// ---- multipart uploads over s3rver's directories (<dir>/<bucket>/._S3rver_uploads/<id>/key) ----

async function uploadsOf(dir: string, bucket: string): Promise<Array<{ id: string; key: string; initiated: Date }>> {
  const root = path.join(dir, bucket, UPLOADS_DIR);
  let ids: string[];
  try {
    ids = await readdir(root);
  } catch {
    return [];
  }
  const uploads = [];
  for (const id of ids) {
    try {
      const key = await readFile(path.join(root, id, 'key'), 'utf8');
      uploads.push({ id, key, initiated: (await stat(path.join(root, id))).birthtime });
    } catch {
      // completed meanwhile
    }
  }
  return uploads.sort((a, b) => (a.key === b.key ? a.id.localeCompare(b.id) : a.key < b.key ? -1 : 1));
}

async function abortMultipartUpload(dir: string, bucket: string, uploadId: string): Promise<void> {
  if (!/^[0-9a-f]+$/.test(uploadId)) throw new S3Error('NoSuchUpload', 'The specified upload does not exist.');
  const uploadDir = path.join(dir, bucket, UPLOADS_DIR, uploadId);
  try {
    await stat(uploadDir);
  } catch {
    throw new S3Error('NoSuchUpload', 'The specified upload does not exist.', { UploadId: uploadId });
  }
  await rm(uploadDir, { recursive: true, force: true });
}

async function listMultipartUploads(dir: string, bucket: string, prefix: string): Promise<string> {
  const uploads = (await uploadsOf(dir, bucket)).filter((u) => u.key.startsWith(prefix));
  const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
    `<Bucket>${escape(bucket)}</Bucket><Prefix>${escape(prefix)}</Prefix><MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>`,
    ...uploads.map((u) => `<Upload><Key>${escape(u.key)}</Key><UploadId>${u.id}</UploadId><Initiated>${u.initiated.toISOString()}</Initiated></Upload>`),
    '</ListMultipartUploadsResult>',
  ].join('');
}

async function objectKeysIn(root: string, prefix: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(path.join(root, prefix), { withFileTypes: true });
  } catch {
    return [];
  }
  const keys: string[] = [];
  for (const entry of entries) {
    if (entry.name === UPLOADS_DIR) continue;
    if (entry.isDirectory()) keys.push(...(await objectKeysIn(root, path.join(prefix, entry.name))));
    else if (entry.name.endsWith(OBJECT_SUFFIX)) keys.push(path.join(prefix, entry.name.slice(0, -OBJECT_SUFFIX.length)));
  }
  return keys.sort();
}
