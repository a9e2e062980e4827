/**
 * The S3 store against a real S3-protocol server on loopback (s3rver with SigV4
 * verification, see test/support/s3): the whole BlobStore contract, then what only S3 has.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateMultipartUploadCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceUnavailableError } from '@forge/core';
import { createS3BlobStore, type S3BlobStoreOptions } from '@forge/blob-store';
import { startS3Server, type S3TestServer } from '../../../../test/support/s3/index.js';
import { chunksOf, describeBlobStoreContract, readAll, sha256 } from '../contract/blob-store-contract.js';

const MiB = 1024 * 1024;
let s3: S3TestServer;
let counter = 0;

beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.close();
});

async function makeStore(overrides: Partial<S3BlobStoreOptions> = {}) {
  const stagingDir = await mkdtemp(join(tmpdir(), 'forge-s3-staging-'));
  const options: S3BlobStoreOptions = {
    endpoint: s3.endpoint,
    region: s3.region,
    bucket: s3.bucket,
    // A fresh prefix per store: each test sees an empty store in one shared bucket.
    prefix: `t${++counter}-${randomBytes(3).toString('hex')}`,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    forcePathStyle: true,
    stagingDir,
    partSize: 5 * MiB,
    ...overrides,
  };
  const store = createS3BlobStore(options);
  return {
    store,
    options,
    stagingDir,
    close: async () => {
      store.destroy();
      await rm(stagingDir, { recursive: true, force: true });
    },
  };
}

describeBlobStoreContract('S3 (s3rver on loopback)', async () => {
  const made = await makeStore();
  return {
    store: made.store,
    stagingDir: made.stagingDir,
    reopen: () => createS3BlobStore(made.options),
    largeSize: 11 * MiB + 17, // three parts of 5 MiB
    close: made.close,
  };
});

describe('S3 blob store', () => {
  const requestsSince = (mark: number) => s3.requests.slice(mark);

  it('sends a small blob in one PutObject carrying the sha256 of the whole object, at <prefix>/blobs/aa/bb/<sha256>', async () => {
    const { store, options, close } = await makeStore();
    try {
      const bytes = randomBytes(1000);
      const hash = sha256(bytes);
      const staged = await store.stage(chunksOf(bytes, 100));
      const mark = s3.requests.length;
      await staged.promote();
      const puts = requestsSince(mark).filter((r) => r.method === 'PUT');
      expect(puts).toHaveLength(1);
      expect(puts[0]!.headers['x-amz-checksum-sha256']).toBe(Buffer.from(hash, 'hex').toString('base64'));
      expect(await s3.objectKeys()).toContain(`${options.prefix}/blobs/${hash.slice(0, 2)}/${hash.slice(2, 4)}/${hash}`);
      // A second promote finds the object and uploads nothing.
      const again = s3.requests.length;
      await staged.promote();
      expect(requestsSince(again).map((r) => r.method)).toEqual(['HEAD']);
      await staged.discard();
    } finally {
      await close();
    }
  });

  it('uploads a large blob in parts, each with its SHA-256 checksum', async () => {
    const { store, close } = await makeStore();
    try {
      const bytes = randomBytes(12 * MiB);
      const staged = await store.stage(chunksOf(bytes, 64 * 1024));
      const mark = s3.requests.length;
      await staged.promote();
      const seen = requestsSince(mark);
      const parts = seen.filter((r) => r.method === 'PUT' && r.url.includes('partNumber='));
      expect(parts).toHaveLength(3);
      for (const part of parts) expect(part.headers['x-amz-checksum-sha256']).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(seen.filter((r) => r.method === 'POST').map((r) => (r.url.includes('uploads') ? 'create' : 'complete'))).toEqual(['create', 'complete']);
      expect(sha256(await readAll(await store.open(staged.sha256)))).toBe(sha256(bytes));
      expect(await s3.multipartUploads()).toEqual([]);
      await staged.discard();
    } finally {
      await close();
    }
  });

  it('a promote whose part upload fails leaves nothing visible and no multipart upload behind, and can be retried', async () => {
    const { store, close } = await makeStore();
    try {
      const bytes = randomBytes(11 * MiB);
      const staged = await store.stage(chunksOf(bytes, 256 * 1024));
      // More failures than the SDK's three attempts.
      s3.failNext({ match: (r) => r.method === 'PUT' && r.query.get('partNumber') === '2', times: 3 });
      const error = await staged.promote().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ServiceUnavailableError);
      expect((error as Error).message).toMatch(/InternalError/);
      expect(await store.stat(staged.sha256)).toBeNull();
      expect(await s3.multipartUploads()).toEqual([]);
      await staged.promote();
      expect(sha256(await readAll(await store.open(staged.sha256)))).toBe(sha256(bytes));
      await staged.discard();
    } finally {
      await close();
    }
  });

  it('a promote whose connection drops midway leaves nothing visible', async () => {
    const { store, close } = await makeStore();
    try {
      const staged = await store.stage(chunksOf(randomBytes(3000), 1000));
      s3.failNext({ match: (r) => r.method === 'PUT', times: 3, hangUp: true });
      await expect(staged.promote()).rejects.toBeInstanceOf(ServiceUnavailableError);
      expect(await store.stat(staged.sha256)).toBeNull();
      await staged.discard();
    } finally {
      await close();
    }
  });

  it('sweepStaging aborts multipart uploads left by a crashed promote once they are old enough', async () => {
    const { store, options, close } = await makeStore();
    const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
    try {
      const key = `${options.prefix}/blobs/ab/cd/${'abcd'.padEnd(64, '0')}`;
      await client.send(new CreateMultipartUploadCommand({ Bucket: s3.bucket, Key: key }));
      expect(await s3.multipartUploads()).toContain(key);
      expect(await store.sweepStaging(60_000)).toBe(0);
      expect(await s3.multipartUploads()).toContain(key);
      expect(await store.sweepStaging(0)).toBe(1);
      expect(await s3.multipartUploads()).not.toContain(key);
    } finally {
      client.destroy();
      await close();
    }
  });

  describe('start-up check and credentials', () => {
    it('passes with the right credentials and bucket', async () => {
      const { store, close } = await makeStore();
      await store.check().finally(close);
    });

    it('names a wrong secret', async () => {
      const { store, close } = await makeStore({ secretAccessKey: 'not-the-secret' });
      try {
        await expect(store.check()).rejects.toThrow(/cannot use S3 bucket "forge-test" at http:\/\/127\.0\.0\.1:\d+: .*FORGE_S3_SECRET_ACCESS_KEY is wrong \(SignatureDoesNotMatch\)/);
        // At run time a refused request is a 503 naming the cause, not a crash.
        const error = await store.stat('a'.repeat(64)).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(ServiceUnavailableError);
        const staged = await store.stage(chunksOf(randomBytes(10), 10));
        // (Its HEAD is refused first: a HEAD answer has no body to name the reason.)
        await expect(staged.promote()).rejects.toThrow(/access denied \(403\)|SignatureDoesNotMatch/);
        await staged.discard();
      } finally {
        await close();
      }
    });

    it('names an unknown access key id', async () => {
      const { store, close } = await makeStore({ accessKeyId: 'NOBODY' });
      await expect(store.check()).rejects.toThrow(/FORGE_S3_ACCESS_KEY_ID \(InvalidAccessKeyId\)/);
      await close();
    });

    it('names a missing bucket', async () => {
      const { store, close } = await makeStore({ bucket: 'no-such-bucket' });
      await expect(store.check()).rejects.toThrow(/bucket "no-such-bucket".*does not exist/);
      await close();
    });

    it('names an unreachable endpoint, quickly', async () => {
      const port = await closedPort();
      const { store, close } = await makeStore({ endpoint: `http://127.0.0.1:${port}` });
      const started = Date.now();
      const error = (await store.check().catch((e: unknown) => e)) as Error;
      expect(error.message).toMatch(new RegExp(`at http://127\\.0\\.0\\.1:${port}: the endpoint is unreachable \\(ECONNREFUSED`));
      expect(error.message).not.toContain('\n');
      expect(Date.now() - started).toBeLessThan(20_000);
      await close();
    });
  });

  describe('presigned downloads', () => {
    it('serves the blob, ranges and response headers from a presigned URL, and refuses a tampered, expired or doubly authenticated one', async () => {
      const { store, options, close } = await makeStore();
      try {
        const bytes = randomBytes(5000);
        const staged = await store.stage(chunksOf(bytes, 1000));
        await staged.promote();
        await staged.discard();
        const url = await store.presignGet(staged.sha256, {
          expiresInSeconds: 60,
          contentType: 'application/x-nix-nar',
          cacheControl: 'public, max-age=60',
        });
        expect(url).toContain(`${s3.endpoint}/${s3.bucket}/${options.prefix}/blobs/`);

        const whole = await fetch(url);
        expect(whole.status).toBe(200);
        expect(whole.headers.get('content-type')).toBe('application/x-nix-nar');
        expect(whole.headers.get('cache-control')).toBe('public, max-age=60');
        expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);

        const part = await fetch(url, { headers: { Range: 'bytes=4000-' } });
        expect(part.status).toBe(206);
        expect(part.headers.get('content-range')).toBe('bytes 4000-4999/5000');
        expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(4000));

        const head = await fetch(url, { method: 'HEAD' });
        // A presigned GET signs the method: S3 answers HEAD on it with 403.
        expect(head.status).toBe(403);

        const tampered = url!.replace(staged.sha256, 'f'.repeat(64).replace(/^f{4}/, staged.sha256.slice(0, 4)));
        const forged = await fetch(tampered);
        expect(forged.status).toBe(403);
        expect(await forged.text()).toContain('SignatureDoesNotMatch');

        const withAuth = await fetch(url, { headers: { Authorization: 'Basic ' + Buffer.from(':token').toString('base64') } });
        expect(withAuth.status).toBe(400);
        expect(await withAuth.text()).toContain('Only one auth mechanism allowed');

        const short = await store.presignGet(staged.sha256, { expiresInSeconds: 1 });
        await new Promise((resolve) => setTimeout(resolve, 2100));
        const expired = await fetch(short!);
        expect(expired.status).toBe(403);
        expect(await expired.text()).toContain('Request has expired');
      } finally {
        await close();
      }
    });

    it('signs for the public endpoint clients use when it differs from the server’s', async () => {
      const { store, close } = await makeStore({ publicEndpoint: `http://localhost:${s3.port}` });
      try {
        const staged = await store.stage(chunksOf(Buffer.from('public'), 3));
        await staged.promote();
        await staged.discard();
        const url = await store.presignGet(staged.sha256, { expiresInSeconds: 60 });
        expect(url).toMatch(new RegExp(`^http://localhost:${s3.port}/`));
        const response = await fetch(url!);
        expect(response.status).toBe(200);
        expect(await response.text()).toBe('public');
      } finally {
        await close();
      }
    });
  });

  it('leaves nothing in its staging directory after a promoted and discarded upload', async () => {
    const { store, stagingDir, close } = await makeStore();
    try {
      const staged = await store.stage(chunksOf(randomBytes(100), 10));
      await staged.promote();
      await staged.discard();
      expect(await readdir(stagingDir)).toEqual([]);
    } finally {
      await close();
    }
  });
});

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
