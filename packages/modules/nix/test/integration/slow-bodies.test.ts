/**
 * Slow and stalled request bodies (issue 16, finding 5): four NAR PUTs trickling a byte at a
 * time took all four verification slots and another owner's 136-byte upload waited for
 * them; idle NAR and narinfo bodies stayed open for minutes. Now a body that sends nothing
 * for FORGE_BODY_IDLE_TIMEOUT is refused with 408 and leaves nothing behind, and one owner
 * holds at most half of the verification slots.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import { CacheClient, expectNothingLeft, makePath } from './support.js';

const kinds = await testDatabaseKinds();
const IDLE_MS = 1500;

interface Trickle {
  /** The status the server answered with, or -1 if the connection closed without one. */
  status: Promise<number>;
  /** Whether an answer (or a close) came. */
  settled: () => boolean;
  stop(): void;
}

/**
 * A PUT that sends `first` bytes of `body` at once, then one byte every `everyMs` (never, if
 * null), the rest never: a slow or stalled client.
 */
function trickle(url: string, authorization: string, body: Buffer, first: number, everyMs: number | null): Trickle {
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const req = http.request(url, { method: 'PUT', headers: { authorization, 'content-length': String(body.length) } });
  const status = new Promise<number>((resolve) => {
    req.on('response', (res) => {
      settled = true;
      clearInterval(timer);
      res.resume();
      resolve(res.statusCode!);
    });
    req.on('error', () => {
      settled = true;
      clearInterval(timer);
      resolve(-1);
    });
    req.on('close', () => {
      settled = true;
      clearInterval(timer);
      resolve(-1);
    });
  });
  req.write(body.subarray(0, first));
  let at = first;
  if (everyMs !== null) {
    timer = setInterval(() => {
      if (at < body.length - 1) req.write(body.subarray(at, ++at));
    }, everyMs);
  }
  return {
    status,
    settled: () => settled,
    stop: () => {
      clearInterval(timer);
      req.destroy();
    },
  };
}

describe.each(kinds)('slow and stalled bodies on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  let mallory: CacheClient;

  beforeAll(async () => {
    t = await startTestServer({ db: kind, config: { bodyIdleTimeoutMs: IDLE_MS } });
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(await t.createUser('alice'))));
    mallory = new CacheClient(t, 'mallory', basic('mallory', await t.token(await t.createUser('mallory'))));
    for (const c of [alice, mallory]) expect((await c.put('nix-cache-info', 'StoreDir: /nix/store\n', 'text/x-nix-cache-info')).status).toBe(204);
  });
  afterAll(() => t?.close());

  it('refuses a NAR, a narinfo, a .ls and a generic file whose body stalls with 408, leaving nothing behind', async () => {
    const p = makePath({ compression: 'none', tree: { type: 'regular', contents: Buffer.alloc(200_000, 3) } });
    await expectNothingLeft(t, async () => {
      const stalled = [
        trickle(`${alice.base}/${p.url}`, alice.authorization!, p.file, 100_000, null),
        trickle(`${alice.base}/${p.hashPart}.narinfo`, alice.authorization!, Buffer.from(p.narinfo), 50, null),
        trickle(`${alice.base}/${p.hashPart}.ls`, alice.authorization!, Buffer.from('{"version":1,"root":{"type":"regular","size":1}}'), 10, null),
        trickle(`${t.url}/api/packages/alice/generic/tool/1.0/tool.bin`, alice.authorization!, Buffer.alloc(100_000, 1), 1000, null),
      ];
      const started = Date.now();
      expect(await Promise.all(stalled.map((s) => s.status))).toEqual([408, 408, 408, 408]);
      // Not before the idle time (the clock is the test's: a loose lower bound only).
      expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 200);
    });
    // The NAR is not there, and a proper upload of it works.
    expect((await alice.get(p.url)).status).toBe(404);
    await alice.push(p);
  });

  it("one owner's trickling NAR uploads take at most half the verification slots: another owner's upload goes ahead", async () => {
    // Four uploads of mallory, each sending a byte every 200 ms (never idle long enough).
    const slow = Array.from({ length: 4 }, () => makePath({ compression: 'none', tree: { type: 'regular', contents: Buffer.alloc(50_000, 9) } }));
    const trickles = slow.map((p) => trickle(`${mallory.base}/${p.url}`, mallory.authorization!, p.file, 1000, 200));
    try {
      await new Promise((r) => setTimeout(r, 500));
      const small = makePath({ compression: 'none' });
      const res = await alice.putNar(small);
      expect(res.status, await res.text()).toBe(201);
      // Mallory's uploads are all still running (the small one did not wait for them).
      expect(trickles.map((tr) => tr.settled())).toEqual([false, false, false, false]);
      // And mallory's own third upload waits (only two of them hold slots): a fifth, whole
      // upload of mallory waits too, while another of alice's still goes through.
      const other = makePath({ compression: 'none' });
      expect((await alice.putNar(other)).status).toBe(201);
    } finally {
      for (const tr of trickles) tr.stop();
    }
  });
});
