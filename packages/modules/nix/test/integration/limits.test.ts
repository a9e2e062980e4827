/**
 * Size limits on NAR uploads (FORGE_MAX_UPLOAD_BYTES): 413 by Content-Length before the
 * body is sent, 413 while a body without Content-Length streams in, 413 for a small file
 * that inflates past the NAR limit (a decompression bomb), nothing left behind each time.
 * Also the narinfo spellings Nix writes that the cache must accept.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { formatHash, parseNarInfo } from '../../src/format/index.js';
import { CacheClient, expectNothingLeft, makePath, putExpectingContinue, randomHashPart } from './support.js';

const kinds = await testDatabaseKinds();
const MAX_UPLOAD = 256 * 1024;

describe.each(kinds)('nix upload limits and narinfo spellings on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;

  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { maxUploadBytes: MAX_UPLOAD } });
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(await t.createUser('alice'))));
    expect((await alice.put('nix-cache-info', 'StoreDir: /nix/store\n', 'text/x-nix-cache-info')).status).toBe(204);
  });
  afterAll(() => t?.close());

  const big = () => makePath({ compression: 'none', tree: { type: 'regular', contents: Buffer.alloc(MAX_UPLOAD + 1000, 7) } });

  it('refuses a NAR whose Content-Length is over the limit with 413, before its body', async () => {
    const p = big();
    await expectNothingLeft(t, async () => {
      const res = await putExpectingContinue(`${alice.base}/nar/${p.fileName}`, p.file, { authorization: alice.authorization! });
      expect(res).toMatchObject({ status: 413, continued: false });
      expect((await alice.putNar(p)).status).toBe(413);
    });
  });

  it('refuses a NAR streamed without Content-Length once it passes the limit (413)', async () => {
    const p = big();
    await expectNothingLeft(t, async () => {
      const body = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < p.file.length; i += 16 * 1024) c.enqueue(p.file.subarray(i, i + 16 * 1024));
          c.close();
        },
      });
      const res = await fetch(`${alice.base}/nar/${p.fileName}`, {
        method: 'PUT',
        body,
        headers: { authorization: alice.authorization!, 'content-type': 'application/x-nix-nar' },
        duplex: 'half',
      } as RequestInit);
      expect(res.status, await res.clone().text()).toBe(413);
    });
  });

  it('refuses a small file that inflates past the NAR limit (413)', async () => {
    // 64 × the upload limit of zeros: a few KiB as zstd.
    const p = makePath({ compression: 'zstd', tree: { type: 'regular', contents: Buffer.alloc(64 * MAX_UPLOAD + 4096) } });
    expect(p.file.length).toBeLessThan(MAX_UPLOAD);
    await expectNothingLeft(t, async () => {
      const res = await alice.putNar(p);
      expect(res.status).toBe(413);
      expect(await res.text()).toMatch(/NAR upload refused/);
    });
  });

  it('refuses a .ls over 64 MiB by its Content-Length before its body, and while it streams in (413); checks a big one in constant memory', async () => {
    const url = `${alice.base}/${randomHashPart()}.ls`;
    const declared = await putExpectingContinue(url, '{}', { authorization: alice.authorization!, 'content-length': String(64 * 1024 * 1024 + 1) });
    expect(declared).toMatchObject({ status: 413, continued: false });

    // A valid listing of one directory, streamed without Content-Length, 4 KiB an entry.
    const listing = (entries: number) => {
      let i = 0;
      const filler = 'x'.repeat(4000);
      return new ReadableStream<Uint8Array>({
        pull(c) {
          if (i === 0) c.enqueue(Buffer.from('{"version":1,"root":{"type":"directory","entries":{'));
          if (i === entries) {
            c.enqueue(Buffer.from('}}}'));
            c.close();
            return;
          }
          c.enqueue(Buffer.from(`${i ? ',' : ''}"f${i}":{"type":"symlink","target":"${filler}"}`));
          i++;
        },
      });
    };
    const put = (body: ReadableStream<Uint8Array>) =>
      fetch(url, { method: 'PUT', body, headers: { authorization: alice.authorization!, 'content-type': 'application/json' }, duplex: 'half' } as RequestInit);
    const tooBig = await put(listing(17_000));
    expect(tooBig.status, await tooBig.clone().text()).toBe(413);
    const big = await put(listing(10_000));
    expect(big.status, await big.clone().text()).toBe(204);
  });

  it('accepts a NAR just under the limit', async () => {
    const p = makePath({ compression: 'none', tree: { type: 'regular', contents: Buffer.alloc(MAX_UPLOAD - 200, 1) } });
    expect(p.file.length).toBeLessThanOrEqual(MAX_UPLOAD);
    await alice.push(p);
  });

  it('accepts the narinfo spellings Nix writes: no FileHash/FileSize (2.20+), unknown-deriver, System (2.8), other hash encodings, any field order', async () => {
    const p = makePath({ name: 'spellings-1.0', compression: 'xz' });
    expect((await alice.putNar(p)).status).toBe(201);
    const lines = p.narinfo
      .split('\n')
      .filter((l) => l && !l.startsWith('FileHash:') && !l.startsWith('FileSize:'))
      .map((l) => (l.startsWith('NarHash:') ? `NarHash: ${formatHash(p.info.narHash, 'sri')}` : l));
    lines.push('Deriver: unknown-deriver', 'System: x86_64-linux');
    const text = lines.reverse().join('\n') + '\n';
    const res = await alice.putNarInfo(p, text);
    expect(res.status, await res.clone().text()).toBe(201);
    const served = parseNarInfo(await alice.narinfo(p.hashPart));
    // The server fills in what it knows.
    expect(served.fileHash).toEqual(p.info.fileHash);
    expect(served.fileSize).toBe(p.file.length);
    expect(served.narHash).toEqual(p.info.narHash);
    expect(served.deriver).toBeUndefined();
    expect(served.system).toBe('x86_64-linux');
  });
});
