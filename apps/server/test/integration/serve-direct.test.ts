/**
 * FORGE_SERVE_DIRECT and FORGE_STORAGE=s3 through the real server: redirects to presigned
 * S3 URLs after the access check, X-Accel-Redirect for local files, and S3 objects
 * streamed through the server when serving directly is off. (nginx and the real Nix
 * client follow these in test/e2e/scale-out.test.ts and test/e2e/accel.test.ts.)
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import type { ForgeConfig } from '@forge/server';
import { startS3Server, type S3TestServer } from '../../../../test/support/s3/index.js';
import { CacheClient, filesUnder, makePath } from '../../../../packages/modules/nix/test/integration/support.js';

const kinds = await testDatabaseKinds();
let s3: S3TestServer;
beforeAll(async () => {
  s3 = await startS3Server();
});
afterAll(async () => {
  await s3?.close();
});

const s3Storage = (dataDir: string, prefix: string): ForgeConfig['storage'] => ({
  kind: 's3',
  path: path.join(dataDir, 'blobs'),
  endpoint: s3.endpoint,
  region: s3.region,
  bucket: s3.bucket,
  prefix,
  accessKeyId: s3.accessKeyId,
  secretAccessKey: s3.secretAccessKey,
  forcePathStyle: true,
});

async function startWith(kind: 'pglite' | 'postgres', direct: ForgeConfig['serveDirect']['mode'], storage: 'local'): Promise<{ t: TestServer; token: string }> {
  void storage;
  const t = await startTestServer({ db: kind, config: { serveDirect: { mode: direct, expirySeconds: 60, accelLocation: '/_forge_blobs/' } } });
  const token = await t.token(await t.createUser('alice'));
  return { t, token };
}

async function startTestServerInOwnDir(kind: 'pglite' | 'postgres', direct: ForgeConfig['serveDirect']['mode'], prefix: string) {
  const dir = path.join(os.tmpdir(), `forge-s3-staging-${randomBytes(4).toString('hex')}`);
  const t = await startTestServer({
    db: kind,
    config: { storage: s3Storage(dir, prefix), serveDirect: { mode: direct, expirySeconds: 60, accelLocation: '/_forge_blobs/' } },
  });
  const token = await t.token(await t.createUser('alice'));
  const close = async () => {
    await t.close();
    await fs.rm(dir, { recursive: true, force: true });
  };
  return { t, token, stagingRoot: dir, close };
}

describe.each(kinds)('serving blobs directly, on %s', (kind) => {
  describe('FORGE_STORAGE=s3, FORGE_SERVE_DIRECT=redirect', () => {
    let t: TestServer;
    let token: string;
    let stagingRoot: string;
    let close: () => Promise<void>;
    const body = randomBytes(100_000);
    let fileUrl: string;

    beforeAll(async () => {
      ({ t, token, stagingRoot, close } = await startTestServerInOwnDir(kind, 'redirect', `redirect-${kind}-${randomBytes(4).toString('hex')}`));
      fileUrl = `${t.url}/api/packages/alice/generic/tool/1.0/tool.bin`;
      const put = await fetch(fileUrl, { method: 'PUT', body, headers: { authorization: basic('alice', token) } });
      expect(put.status).toBe(201);
    });
    afterAll(async () => {
      await close?.();
    });

    it('stores nothing on local disk but the (now empty) staging directory', async () => {
      expect(await filesUnder(stagingRoot)).toEqual([]);
    });

    it('answers GET with a 302 to a short-lived presigned URL that serves the bytes with the server’s headers', async () => {
      const res = await fetch(fileUrl, { redirect: 'manual' });
      expect(res.status).toBe(302);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('etag')).toBeNull();
      const location = res.headers.get('location')!;
      expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/`)).toBe(true);
      expect(new URL(location).searchParams.get('X-Amz-Expires')).toBe('60');
      const object = await fetch(location);
      expect(object.status).toBe(200);
      expect(Buffer.from(await object.arrayBuffer())).toEqual(body);
      expect(object.headers.get('content-type')).toBe('application/octet-stream');
      expect(object.headers.get('content-disposition')).toBe(`attachment; filename="tool.bin"; filename*=UTF-8''tool.bin`);
    });

    it('keeps Range working: the redirect is followed with the same Range', async () => {
      const res = await fetch(fileUrl, { redirect: 'manual', headers: { range: 'bytes=99000-' } });
      expect(res.status).toBe(302);
      const part = await fetch(res.headers.get('location')!, { headers: { range: 'bytes=99000-' } });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe('bytes 99000-99999/100000');
      expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(99000));
      // An unsatisfiable range is answered here, as today.
      const bad = await fetch(fileUrl, { redirect: 'manual', headers: { range: 'bytes=200000-' } });
      expect(bad.status).toBe(416);
      expect(bad.headers.get('content-range')).toBe('bytes */100000');
    });

    it('answers HEAD and conditional requests itself', async () => {
      const head = await fetch(fileUrl, { method: 'HEAD', redirect: 'manual' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe('100000');
      expect(head.headers.get('location')).toBeNull();
      const etag = head.headers.get('etag')!;
      expect((await fetch(fileUrl, { redirect: 'manual', headers: { 'if-none-match': etag } })).status).toBe(304);
    });

    it('redirects only after the access check', async () => {
      const secret = await t.createUser('carol', { visibility: 'private' });
      const carol = await t.token(secret);
      const url = `${t.url}/api/packages/carol/generic/hidden/1/h.bin`;
      expect((await fetch(url, { method: 'PUT', body: 'hidden', headers: { authorization: basic('carol', carol) } })).status).toBe(201);
      const anonymous = await fetch(url, { redirect: 'manual' });
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('location')).toBeNull();
      const owner = await fetch(url, { redirect: 'manual', headers: { authorization: basic('carol', carol) } });
      expect(owner.status).toBe(302);
    });

    it('redirects NARs with their content type and cache lifetime carried to S3', async () => {
      const nix = new CacheClient(t, 'alice', basic('alice', token));
      const p = makePath({ compression: 'xz' });
      await nix.push(p);
      const res = await nix.fetch(`nar/${p.fileName}`, { redirect: 'manual' });
      expect(res.status).toBe(302);
      const object = await fetch(res.headers.get('location')!);
      expect(object.headers.get('content-type')).toBe('application/x-nix-nar');
      expect(object.headers.get('cache-control')).toMatch(/max-age=31536000/);
      expect(Buffer.from(await object.arrayBuffer())).toEqual(Buffer.from(p.file));
      expect(await nix.narinfo(p.hashPart)).toContain(`URL: nar/${p.fileName}`);
    });
  });

  describe('FORGE_STORAGE=s3, FORGE_SERVE_DIRECT=off', () => {
    let t: TestServer;
    let token: string;
    let close: () => Promise<void>;
    beforeAll(async () => {
      ({ t, token, close } = await startTestServerInOwnDir(kind, 'off', `off-${kind}-${randomBytes(4).toString('hex')}`));
    });
    afterAll(async () => {
      await close?.();
    });

    it('streams S3 objects through the server, whole and in ranges', async () => {
      const body = randomBytes(70_000);
      const url = `${t.url}/api/packages/alice/generic/tool/1.0/t.bin`;
      expect((await fetch(url, { method: 'PUT', body, headers: { authorization: basic('alice', token) } })).status).toBe(201);
      const whole = await fetch(url, { redirect: 'manual' });
      expect(whole.status).toBe(200);
      expect(Buffer.from(await whole.arrayBuffer())).toEqual(body);
      const part = await fetch(url, { headers: { range: 'bytes=-10' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer())).toEqual(body.subarray(-10));
    });
  });

  describe('FORGE_STORAGE=local, FORGE_SERVE_DIRECT=accel', () => {
    let t: TestServer;
    let token: string;
    beforeAll(async () => {
      ({ t, token } = await startWith(kind, 'accel', 'local'));
    });
    afterAll(async () => {
      await t?.close();
    });

    it('answers GET with X-Accel-Redirect to the blob under the internal location, and HEAD itself', async () => {
      const body = randomBytes(5000);
      const url = `${t.url}/api/packages/alice/generic/tool/1.0/a.bin`;
      expect((await fetch(url, { method: 'PUT', body, headers: { authorization: basic('alice', token) } })).status).toBe(201);
      const sha = (await import('node:crypto')).createHash('sha256').update(body).digest('hex');
      const res = await fetch(url);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-accel-redirect')).toBe(`/_forge_blobs/${sha.slice(0, 2)}/${sha.slice(2, 4)}/${sha}`);
      expect(res.headers.get('content-length')).toBe('0');
      expect(res.headers.get('etag')).toBe(`"${sha}"`);
      expect(res.headers.get('content-type')).toBe('application/octet-stream');
      expect(await res.text()).toBe('');
      const head = await fetch(url, { method: 'HEAD' });
      expect(head.headers.get('content-length')).toBe('5000');
      expect(head.headers.get('x-accel-redirect')).toBeNull();
    });
  });
});
