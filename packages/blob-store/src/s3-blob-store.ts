import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { resolve } from 'node:path';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  AbortMultipartUploadCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  NotFoundError,
  RangeNotSatisfiableError,
  ServiceUnavailableError,
  type BlobStore,
  type ByteRange,
  type PresignOptions,
  type BlobDigests,
  type StagedBlob,
  type StageOptions,
  type StoredBlobInfo,
} from '@forge/core';
import { assertRange, blobKey, isSha256, positiveInteger } from './content-address.js';
import { Serializer, StagingArea, type StagingFile } from './staging-area.js';

export interface S3BlobStoreOptions {
  /** `https://s3.example.org` for any S3-compatible service; unset means AWS (from the region). */
  endpoint?: string;
  /**
   * The endpoint clients use for presigned downloads, when they reach the store under
   * another address than the server does (docker-compose: `http://minio:9000` inside,
   * `https://s3.forge.example` outside). Default: `endpoint`.
   */
  publicEndpoint?: string;
  region: string;
  bucket: string;
  /** Key prefix inside the bucket (`forge/` puts blobs under `forge/blobs/…`). */
  prefix?: string;
  /** Static credentials; unset means the AWS SDK's default chain (environment, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key` (MinIO, Garage, Ceph without wildcard DNS). */
  forcePathStyle?: boolean;
  /** Local directory uploads are staged in before they are uploaded (promoted). */
  stagingDir: string;
  /** Bytes per multipart part, and the largest blob sent in one PutObject. Default 8 MiB. */
  partSize?: number;
  /** Parts of one upload in flight at once. Default 2 (memory per promote: partSize × (queueSize + 1)). */
  queueSize?: number;
  /** Connections to the store per process. Default 64. */
  maxSockets?: number;
  /** Bytes gathered per write(2) while staging. Default 1 MiB. */
  writeBufferSize?: number;
  /** Milliseconds to wait for a TCP connection. Default 5000. */
  connectionTimeoutMs?: number;
  /** Milliseconds a request may stay silent before it fails. Default 120000. */
  requestTimeoutMs?: number;
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 2;
const DEFAULT_WRITE_BUFFER = 1024 * 1024;
/** S3's smallest part size (the last part excepted). */
const MIN_PART_SIZE = 5 * 1024 * 1024;

export function createS3BlobStore(options: S3BlobStoreOptions): S3BlobStore {
  return new S3BlobStore(options);
}

/**
 * Content-addressed blobs in an S3-compatible bucket: `<prefix>blobs/aa/bb/<sha256>`, the
 * local store's layout. Uploads are staged on local disk (hashed, size-limited, abortable,
 * exactly as the local store does), and a promote uploads the staged file to its content
 * address: one PutObject carrying `x-amz-checksum-sha256` of the whole blob, or a multipart
 * upload with a SHA-256 checksum per part, streamed from the file in constant memory. An
 * object appears at its key only when its upload completed, so a blob is visible at its
 * content address only after it was verified. See docs/blob-store.md.
 */
export class S3BlobStore implements BlobStore {
  readonly kind = 's3';
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #presigner: S3Client;
  readonly #staging: StagingArea;
  readonly #partSize: number;
  readonly #queueSize: number;
  readonly #endpointLabel: string;
  /** Keys this process is uploading right now; sweepStaging spares their multipart uploads. */
  readonly #promoting = new Map<string, number>();

  constructor(options: S3BlobStoreOptions) {
    if (!options.bucket) throw new Error('an S3 blob store needs a bucket');
    this.bucket = options.bucket;
    this.prefix = normalizePrefix(options.prefix);
    this.#partSize = positiveInteger(options.partSize ?? DEFAULT_PART_SIZE, 'partSize');
    if (this.#partSize < MIN_PART_SIZE) throw new RangeError(`partSize must be at least ${MIN_PART_SIZE} bytes (S3's smallest part)`);
    this.#queueSize = positiveInteger(options.queueSize ?? DEFAULT_QUEUE_SIZE, 'queueSize');
    this.#staging = new StagingArea(resolve(options.stagingDir), positiveInteger(options.writeBufferSize ?? DEFAULT_WRITE_BUFFER, 'writeBufferSize'));
    this.#endpointLabel = options.endpoint ?? `AWS S3 (${options.region})`;
    const maxSockets = positiveInteger(options.maxSockets ?? 64, 'maxSockets');
    const credentials =
      options.accessKeyId !== undefined && options.secretAccessKey !== undefined
        ? { accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey }
        : undefined;
    const common = {
      region: options.region,
      credentials,
      forcePathStyle: options.forcePathStyle ?? false,
      // The SDK's default (since 2025) adds CRC32 checksums with aws-chunked trailers to
      // every upload, which many S3-compatible services do not understand. We send our own
      // SHA-256 checksums where they matter (see promote) and ask for nothing else.
      requestChecksumCalculation: 'WHEN_REQUIRED' as const,
      responseChecksumValidation: 'WHEN_REQUIRED' as const,
    };
    this.#client = new S3Client({
      ...common,
      endpoint: options.endpoint,
      maxAttempts: 3,
      requestHandler: new NodeHttpHandler({
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
        connectionTimeout: options.connectionTimeoutMs ?? 5000,
        requestTimeout: options.requestTimeoutMs ?? 120_000,
      }),
    });
    // Presigning is computed locally; it only needs the address clients will use.
    this.#presigner = new S3Client({ ...common, endpoint: options.publicEndpoint ?? options.endpoint });
  }

  /** The object key of a blob. */
  objectKey(sha256: string): string {
    return `${this.prefix}blobs/${blobKey(sha256)}`;
  }

  async check(): Promise<void> {
    try {
      await this.#staging.check();
    } catch (error) {
      throw new Error(`the S3 store's staging directory ${this.#staging.dir} is not writable: ${(error as Error).message}`, { cause: error });
    }
    const where = `bucket "${this.bucket}" at ${this.#endpointLabel}`;
    try {
      // A GET (not HeadBucket) so that the store explains a refusal in its error body.
      await this.#client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: `${this.prefix}blobs/`, MaxKeys: 1 }));
      await this.#client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (error) {
      throw new Error(`cannot use S3 ${where}: ${describeS3Error(error)}`, { cause: error });
    }
  }

  async stage(source: AsyncIterable<Uint8Array>, options: StageOptions = {}): Promise<StagedBlob> {
    const file = await this.#staging.write(source, options);
    const blob = new S3StagedBlob(file, this, this.#staging);
    this.#staging.track(blob, file);
    return blob;
  }

  async stat(sha256: string): Promise<{ size: number; modifiedMs: number } | null> {
    const key = this.objectKey(sha256);
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { size: Number(head.ContentLength ?? 0), modifiedMs: head.LastModified?.getTime() ?? 0 };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw unavailable(error, `stat ${sha256}`);
    }
  }

  async open(sha256: string, range?: ByteRange): Promise<Readable> {
    const key = this.objectKey(sha256);
    if (range) assertRange(range);
    try {
      const object = await this.#client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: range ? `bytes=${range.start}-${range.end}` : undefined }),
      );
      return object.Body as Readable;
    } catch (error) {
      if (isNotFound(error)) throw new NotFoundError(`blob ${sha256} not found`);
      if (statusOf(error) === 416) {
        const info = await this.stat(sha256);
        if (!info) throw new NotFoundError(`blob ${sha256} not found`);
        throw new RangeNotSatisfiableError(info.size);
      }
      throw unavailable(error, `read ${sha256}`);
    }
  }

  /** Absent objects are not an error (S3's DeleteObject answers 204 for them too). */
  async delete(sha256: string): Promise<void> {
    const key = this.objectKey(sha256);
    try {
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return;
      throw unavailable(error, `delete ${sha256}`);
    }
  }

  async *list(): AsyncIterable<string> {
    for await (const entry of this.entries()) yield entry.sha256;
  }

  /** ListObjectsV2 returns keys in UTF-8 binary order: ascending hex, as the contract wants. */
  async *entries(): AsyncIterable<StoredBlobInfo> {
    const prefix = `${this.prefix}blobs/`;
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }));
      } catch (error) {
        throw unavailable(error, 'list blobs');
      }
      for (const object of page.Contents ?? []) {
        const sha256 = blobFromKey(object.Key?.slice(prefix.length) ?? '');
        if (sha256) yield { sha256, size: Number(object.Size ?? 0), modifiedMs: object.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  localPath(): null {
    return null;
  }

  async presignGet(sha256: string, options: PresignOptions): Promise<string> {
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: this.objectKey(sha256),
      ResponseContentType: options.contentType,
      ResponseCacheControl: options.cacheControl,
      ResponseContentDisposition: options.contentDisposition,
      ResponseContentEncoding: options.contentEncoding,
    });
    return getSignedUrl(this.#presigner, command, { expiresIn: options.expiresInSeconds });
  }

  /**
   * Removes local staging files older than `olderThanMs`, and aborts multipart uploads
   * under the blob prefix that were started before then and that this process is not
   * running (a promote that crashed leaves one; nothing of it is visible, but its parts
   * take space). A store without ListMultipartUploads is left to its lifecycle rules.
   */
  async sweepStaging(olderThanMs: number): Promise<number> {
    let removed = await this.#staging.sweep(olderThanMs);
    const cutoff = Date.now() - olderThanMs;
    const prefix = `${this.prefix}blobs/`;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let page;
      try {
        page = await this.#client.send(
          new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
        );
      } catch (error) {
        if (errorCode(error) === 'NotImplemented') return removed;
        throw unavailable(error, 'list multipart uploads');
      }
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key || !upload.UploadId) continue;
        if (this.#promoting.has(upload.Key)) continue;
        if ((upload.Initiated?.getTime() ?? 0) > cutoff) continue;
        try {
          await this.#client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: upload.Key, UploadId: upload.UploadId }));
          removed++;
        } catch (error) {
          if (errorCode(error) !== 'NoSuchUpload') throw unavailable(error, 'abort a multipart upload');
        }
      }
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      uploadIdMarker = page.IsTruncated ? page.NextUploadIdMarker : undefined;
    } while (keyMarker);
    return removed;
  }

  /**
   * Uploads a staged file to its content address unless an object of its size is there
   * (equal sha256, equal bytes). Resolves once the object is complete and readable (S3
   * and the services we support have read-after-write consistency).
   */
  async upload(file: StagingFile): Promise<void> {
    const key = this.objectKey(file.sha256);
    const existing = await this.stat(file.sha256);
    if (existing?.size === file.size) return;
    this.#promoting.set(key, (this.#promoting.get(key) ?? 0) + 1);
    try {
      if (file.size <= this.#partSize) {
        // One request, and the store checks the whole object against our sha256.
        const body = await readFile(file.path);
        await this.#client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: body,
            ContentLength: body.length,
            ContentType: 'application/octet-stream',
            ChecksumSHA256: Buffer.from(file.sha256, 'hex').toString('base64'),
          }),
        );
        return;
      }
      const upload = new Upload({
        client: this.#client,
        params: {
          Bucket: this.bucket,
          Key: key,
          Body: createReadStream(file.path, { highWaterMark: 1024 * 1024 }),
          ContentType: 'application/octet-stream',
          // Each part carries its SHA-256; the store verifies every part it receives.
          ChecksumAlgorithm: 'SHA256',
        },
        partSize: this.#partSize,
        queueSize: this.#queueSize,
        leavePartsOnError: false,
      });
      await upload.done();
      // The parts were verified one by one; the assembled object must have the staged size.
      const stored = await this.stat(file.sha256);
      if (stored?.size !== file.size) {
        throw new ServiceUnavailableError(`the object store holds ${stored?.size ?? 'nothing'} bytes for blob ${file.sha256} after uploading ${file.size}`, 5);
      }
    } catch (error) {
      throw unavailable(error, `upload ${file.sha256}`);
    } finally {
      const n = this.#promoting.get(key)! - 1;
      if (n === 0) this.#promoting.delete(key);
      else this.#promoting.set(key, n);
    }
  }

  /** Closes the connections to the store. */
  destroy(): void {
    this.#client.destroy();
    this.#presigner.destroy();
  }
}

class S3StagedBlob implements StagedBlob {
  readonly sha256: string;
  readonly size: number;
  readonly digests?: BlobDigests;
  #discarded = false;
  readonly #serial = new Serializer();

  constructor(
    private readonly file: StagingFile,
    private readonly store: S3BlobStore,
    private readonly staging: StagingArea,
  ) {
    this.sha256 = file.sha256;
    this.size = file.size;
    this.digests = file.digests;
  }

  promote(): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#discarded) throw new Error(`staged blob ${this.sha256} was discarded and cannot be promoted`);
      await this.store.upload(this.file);
    });
  }

  discard(): Promise<void> {
    return this.#serial.run(async () => {
      if (this.#discarded) return;
      this.#discarded = true;
      await this.staging.release(this, this.file);
    });
  }
}

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed.includes('//') || trimmed.split('/').some((s) => s === '.' || s === '..')) {
    throw new Error(`invalid S3 key prefix "${prefix}"`);
  }
  return trimmed ? `${trimmed}/` : '';
}

/** `aa/bb/<sha256>` → the sha256, or null for any other key. */
function blobFromKey(rest: string): string | null {
  const parts = rest.split('/');
  if (parts.length !== 3) return null;
  const [a, b, sha256] = parts as [string, string, string];
  if (!isSha256(sha256) || a !== sha256.slice(0, 2) || b !== sha256.slice(2, 4)) return null;
  return sha256;
}

function statusOf(error: unknown): number | undefined {
  return (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function errorCode(error: unknown): string | undefined {
  return (error as { Code?: string; name?: string })?.Code ?? (error as { name?: string })?.name;
}

function isNotFound(error: unknown): boolean {
  const code = errorCode(error);
  return code === 'NoSuchKey' || code === 'NotFound' || (statusOf(error) === 404 && code !== 'NoSuchBucket');
}

/** One line a person can act on: what the store said, or why it could not be reached. */
export function describeS3Error(error: unknown): string {
  const status = statusOf(error);
  const code = errorCode(error);
  const network = (error as NodeJS.ErrnoException)?.code ?? (error as { cause?: NodeJS.ErrnoException })?.cause?.code;
  if (!(error instanceof S3ServiceException) || status === undefined) {
    const message = (error as Error)?.message ?? String(error);
    if (network || /ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ECONNRESET|timeout/i.test(message)) {
      return `the endpoint is unreachable (${network ?? message})`;
    }
    return message;
  }
  switch (code) {
    case 'SignatureDoesNotMatch':
      return 'the store refused the signature: FORGE_S3_SECRET_ACCESS_KEY is wrong (SignatureDoesNotMatch)';
    case 'InvalidAccessKeyId':
      return 'the store does not know FORGE_S3_ACCESS_KEY_ID (InvalidAccessKeyId)';
    case 'AccessDenied':
    case 'Forbidden':
      return 'access denied: these credentials may not read and write the bucket (AccessDenied)';
    case 'NoSuchBucket':
      return 'the bucket does not exist (NoSuchBucket): create it first';
    case 'NotFound':
      return 'the bucket does not exist (404)';
  }
  if (status === 403) return 'access denied (403): check the credentials and the bucket policy';
  return `${code ?? 'error'} (HTTP ${status})${(error as Error).message && (error as Error).message !== code ? `: ${(error as Error).message}` : ''}`;
}

/** A failure talking to the store during a request: 503 (clients retry), with the cause kept for the log. */
function unavailable(error: unknown, what: string): Error {
  if (error instanceof ServiceUnavailableError || error instanceof NotFoundError) return error;
  if ((error as Error)?.name === 'AbortError') return error as Error;
  return new ServiceUnavailableError(`object store: cannot ${what}: ${describeS3Error(error)}`, 5, { cause: error });
}

