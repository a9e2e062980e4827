import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';

const kinds = await testDatabaseKinds();
const MAX_UPLOAD = 64 * 1024;

async function filesUnder(dir: string): Promise<string[]> {
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

describe.each(kinds)('generic registry on %s', (kind) => {
  let t: TestServer;
  let alice: string;
  let bob: string;
  let blobsDir: string;

  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { maxUploadBytes: MAX_UPLOAD } });
    alice = basic('alice', await t.token(await t.createUser('alice')));
    bob = basic('bob', await t.token(await t.createUser('bob')));
    blobsDir = t.forge.config.storage.path;
  });
  afterAll(() => t?.close());

  const url = (owner: string, rest: string) => `${t.url}/api/packages/${owner}/generic/${rest}`;
  const put = (owner: string, rest: string, body: BodyInit, authorization = alice, headers: Record<string, string> = {}) =>
    fetch(url(owner, rest), { method: 'PUT', body, headers: { authorization, ...headers } });
  const count = async (table: string) => Number((await t.forge.db.dataSource.query(`SELECT count(*)::int AS n FROM ${table}`))[0].n);

  it('stores an upload (201) and serves the same bytes back, with HEAD and ranges', async () => {
    const body = 'hello generic\n';
    expect((await put('alice', 'tool/1.0/tool.txt', body)).status).toBe(201);
    const res = await fetch(url('alice', 'tool/1.0/tool.txt'), { headers: { authorization: alice } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(body.length));
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.text()).toBe(body);

    const head = await fetch(url('alice', 'tool/1.0/tool.txt'), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(body.length));

    const ranged = await fetch(url('alice', 'tool/1.0/tool.txt'), { headers: { range: 'bytes=6-' } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get('content-range')).toBe(`bytes 6-${body.length - 1}/${body.length}`);
    expect(await ranged.text()).toBe(body.slice(6));

    const unsatisfiable = await fetch(url('alice', 'tool/1.0/tool.txt'), { headers: { range: 'bytes=999-' } });
    expect(unsatisfiable.status).toBe(416);
  });

  it('refuses a second upload of the same file with 409 and keeps the first', async () => {
    expect((await put('alice', 'dup/1/a.bin', 'first')).status).toBe(201);
    const again = await put('alice', 'dup/1/a.bin', 'second');
    expect(again.status).toBe(409);
    expect(await again.text()).toMatch(/already exists/);
    expect(await (await fetch(url('alice', 'dup/1/a.bin'))).text()).toBe('first');
  });

  it('shares one blob between owners who upload the same bytes, invisibly', async () => {
    const body = 'shared bytes ' + Math.random();
    const sha = createHash('sha256').update(body).digest('hex');
    expect((await put('alice', 'same/1/x', body)).status).toBe(201);
    expect((await fetch(url('bob', 'same/1/x'))).status).toBe(404);
    expect((await put('bob', 'same/1/x', body, bob)).status).toBe(201);
    const rows = await t.forge.db.dataSource.query(`SELECT count(*)::int AS n FROM package_blob WHERE sha256 = $1`, [sha]);
    expect(rows[0].n).toBe(1);
    const onDisk = (await filesUnder(path.join(blobsDir, 'blobs'))).filter((f) => f.endsWith(sha));
    expect(onDisk).toHaveLength(1);
    expect(await (await fetch(url('bob', 'same/1/x'))).text()).toBe(body);
  });

  it('deletes a file (204); the version and package go with their last file', async () => {
    await put('alice', 'gone/1/a', 'a');
    await put('alice', 'gone/1/b', 'b');
    expect((await fetch(url('alice', 'gone/1/a'), { method: 'DELETE', headers: { authorization: alice } })).status).toBe(204);
    expect((await fetch(url('alice', 'gone/1/a'))).status).toBe(404);
    expect((await fetch(url('alice', 'gone/1/b'))).status).toBe(200);
    expect((await fetch(url('alice', 'gone/1/b'), { method: 'DELETE', headers: { authorization: alice } })).status).toBe(204);
    const alicesId = (await t.forge.owners.findByName('alice'))!.id;
    expect(await t.forge.registry.getPackage(alicesId, 'generic', 'gone')).toBeNull();
    expect((await fetch(url('alice', 'gone/1/b'), { method: 'DELETE', headers: { authorization: alice } })).status).toBe(404);
  });

  it('deletes a whole version (204)', async () => {
    await put('alice', 'ver/2/a', 'a');
    await put('alice', 'ver/2/b', 'b');
    expect((await fetch(url('alice', 'ver/2'), { method: 'DELETE', headers: { authorization: alice } })).status).toBe(204);
    expect((await fetch(url('alice', 'ver/2/a'))).status).toBe(404);
    expect((await fetch(url('alice', 'ver/2'), { method: 'DELETE', headers: { authorization: alice } })).status).toBe(404);
  });

  it('refuses bad names with 400 and stores nothing', async () => {
    const before = await count('package');
    for (const bad of ['bad%20name/1/f', '..%2Fx/1/f', 'ok/%20padded/f', 'ok/1/a%00b', 'ok/1/%3Cscript%3E']) {
      const res = await put('alice', bad, 'x');
      expect(res.status, bad).toBe(400);
      expect(await res.text()).toMatch(/invalid|must not/);
    }
    expect(await count('package')).toBe(before);
  });

  it('refuses an oversize body with 413, by Content-Length and while streaming, leaving nothing', async () => {
    const before = { blobs: await count('package_blob'), files: await count('package_file') };
    const big = new Uint8Array(MAX_UPLOAD + 1);
    expect((await put('alice', 'big/1/declared', big)).status).toBe(413);
    // No Content-Length: the limit is enforced while the body streams in.
    const stream = new ReadableStream({
      start(c) {
        for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(MAX_UPLOAD / 4));
        c.close();
      },
    });
    const res = await fetch(url('alice', 'big/1/streamed'), { method: 'PUT', body: stream, headers: { authorization: alice }, duplex: 'half' } as RequestInit);
    expect(res.status).toBe(413);
    expect(await count('package_blob')).toBe(before.blobs);
    expect(await count('package_file')).toBe(before.files);
    expect(await filesUnder(path.join(blobsDir, 'tmp'))).toEqual([]);
  });

  it('leaves no blob, no row and no temp file when the client disconnects mid-upload', async () => {
    const before = { blobs: await count('package_blob'), files: await count('package_file') };
    await new Promise<void>((resolve) => {
      const req = http.request(url('alice', 'cut/1/partial'), {
        method: 'PUT',
        headers: { authorization: alice, 'content-length': String(MAX_UPLOAD) },
      });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(1000, 1), () => setTimeout(() => req.destroy(), 200));
      req.on('close', () => resolve());
    });
    // Let the server notice the disconnect and clean up.
    await new Promise((r) => setTimeout(r, 300));
    expect(await count('package_blob')).toBe(before.blobs);
    expect(await count('package_file')).toBe(before.files);
    expect(await filesUnder(path.join(blobsDir, 'tmp'))).toEqual([]);
    expect((await fetch(url('alice', 'cut/1/partial'))).status).toBe(404);
  });

  it('accepts multipart uploads from browser forms', async () => {
    const form = new FormData();
    form.set('file', new Blob(['from a form']), 'ignored-name.txt');
    const res = await fetch(url('alice', 'form/1/upload.txt'), { method: 'PUT', body: form, headers: { authorization: alice } });
    expect(res.status).toBe(201);
    expect(await (await fetch(url('alice', 'form/1/upload.txt'))).text()).toBe('from a form');
    const empty = new FormData();
    empty.set('other', 'x');
    expect((await fetch(url('alice', 'form/1/none.txt'), { method: 'PUT', body: empty, headers: { authorization: alice } })).status).toBe(400);
  });

  it('answers Expect: 100-continue only after the caller is admitted', async () => {
    const attempt = (authorization?: string) =>
      new Promise<{ status: number; continued: boolean }>((resolve, reject) => {
        let continued = false;
        const req = http.request(url('alice', `expect/1/f-${Math.random()}`), {
          method: 'PUT',
          headers: { expect: '100-continue', 'content-length': '5', ...(authorization ? { authorization } : {}) },
        });
        req.on('continue', () => {
          continued = true;
          req.end('12345');
        });
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode!, continued }));
        });
        req.on('error', reject);
        req.flushHeaders();
      });
    expect(await attempt()).toEqual({ status: 401, continued: false });
    expect(await attempt(bob)).toEqual({ status: 403, continued: false });
    expect(await attempt(alice)).toEqual({ status: 201, continued: true });
  });

  it('lists an owner\'s packages through the API', async () => {
    const res = await fetch(`${t.url}/api/v1/packages/alice?type=generic`);
    expect(res.status).toBe(200);
    const names = ((await res.json()) as Array<{ name: string }>).map((p) => p.name);
    expect(names).toContain('tool');
    expect(names).not.toContain('gone');
  });
});

describe('malformed request paths', () => {
  it('answers a malformed percent-encoding with 400, not 500', async () => {
    const t = await startTestServer({ db: 'pglite' });
    try {
      for (const path of ['/api/packages/alice/generic/%/1/f', '/api/packages/alice/nix/nar/%E0%A4%A.nar', '/api/packages/alice/nix/log/%zz.drv']) {
        const res = await fetch(`${t.url}${path}`);
        expect(res.status, path).toBe(400);
        expect(await res.text()).toMatch(/malformed percent-encoding/);
      }
    } finally {
      await t.close();
    }
  });
});
