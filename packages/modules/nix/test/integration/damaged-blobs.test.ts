/**
 * A NAR whose blob is gone or cut short in storage (issue 16, finding 14): the download is a
 * 404 (Nix falls back to building on a 404, and stops on a 500), never a 500 or a partial
 * body, logged at error level; and the blob check behind `forge admin doctor` finds every
 * such file, with a damaged hash only when asked to read the bytes.
 */
import fs from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseKinds } from '@forge/db/testing';
import { adminCommands } from '@forge/server';
import { basic, startTestServer, type TestServer } from '@forge/server/testing';
import type { LogFields, Logger } from '@forge/core';
import { CacheClient, makePath, type TestPath } from './support.js';

const kinds = await testDatabaseKinds();

/** A logger that keeps error lines (the rest goes nowhere). */
function recordingLogger(errors: Array<{ msg: string; fields?: LogFields }>): Logger {
  const logger: Logger = {
    debug() {},
    info() {},
    warn() {},
    error: (msg, fields) => void errors.push({ msg, fields }),
    child: () => logger,
  };
  return logger;
}

describe.each(kinds)('NARs whose blob is missing or damaged on %s', (kind) => {
  let t: TestServer;
  let alice: CacheClient;
  const errors: Array<{ msg: string; fields?: LogFields }> = [];
  let gone: TestPath;
  let short: TestPath;
  let flipped: TestPath;
  let fine: TestPath;
  const hex = (p: TestPath) => Buffer.from(p.info.fileHash.digest).toString('hex');
  const blobFile = (p: TestPath) => t.forge.blobs.localPath(hex(p))!;
  /** `forge admin doctor` as the CLI runs it (here or through the admin socket): its rows, by file. */
  const doctor = async (args: Record<string, boolean>, progress?: (done: number, total: number) => void) => {
    const result = await adminCommands.doctor(t.forge, args, progress);
    if (typeof result === 'string') throw new Error(`no exit status: ${result}`);
    const rows = result.output
      .split('\n')
      .slice(2)
      .map((line) => line.split('\t'))
      .map(([problem, sha256, owner, type, version, file]) => ({ problem, sha256, owner, type, version, file }));
    return { ...result, rows, nars: new Map(rows.filter((r) => r.file!.startsWith('nar/')).map((r) => [r.file, r.problem])) };
  };

  beforeAll(async () => {
    t = await startTestServer({ db: kind, logger: recordingLogger(errors) });
    alice = new CacheClient(t, 'alice', basic('alice', await t.token(await t.createUser('alice'))));
    [gone, short, flipped, fine] = ['gone-1.0', 'short-1.0', 'flipped-1.0', 'fine-1.0'].map((name) => makePath({ name, compression: 'none' }));
    await alice.push(gone!, short!, flipped!, fine!);
    await fs.rm(blobFile(gone!));
    const bytes = await fs.readFile(blobFile(short!));
    await fs.writeFile(blobFile(short!), bytes.subarray(0, bytes.length - 10));
    const same = await fs.readFile(blobFile(flipped!));
    same[same.length - 20] ^= 0xff;
    await fs.writeFile(blobFile(flipped!), same);
  });
  afterAll(() => t?.close());

  it('answers 404 for a missing or short NAR (GET, HEAD and ranges), logged at error level; a whole one is served', async () => {
    for (const p of [gone, short]) {
      for (const init of [{}, { method: 'HEAD' }, { headers: { range: 'bytes=0-9' } }]) {
        const res = await fetch(`${alice.base}/${p.url}`, init);
        expect(res.status, `${p.storePath.name} ${JSON.stringify(init)}`).toBe(404);
        expect(res.headers.get('content-type')).not.toBe('application/x-nix-nar');
        await res.arrayBuffer();
      }
    }
    const logged = errors.filter((e) => /blob missing or damaged/.test(e.msg));
    expect(logged.map((e) => e.fields?.problem)).toContain('missing');
    expect(logged.some((e) => /bytes stored/.test(String(e.fields?.problem)))).toBe(true);
    expect(logged[0]!.fields?.url).toContain('/nar/');

    const ok = await fetch(`${alice.base}/${fine.url}`);
    expect(ok.status).toBe(200);
    expect(Buffer.from(await ok.arrayBuffer())).toEqual(fine.file);
    // The narinfo stays: Nix asks for the NAR, gets the 404 and builds instead.
    expect((await alice.get(`${gone.hashPart}.narinfo`)).status).toBe(200);
  });

  it('forge admin doctor finds the missing and short blobs by size, and the damaged one only with --hashes', async () => {
    const quick = await doctor({});
    expect(quick.exitCode).toBe(2);
    expect(quick.output).toMatch(/^Checked \d+ blobs \(presence and size.*\): 2 damaged\./);
    expect(quick.nars).toEqual(
      new Map([
        [`nar/${gone.fileName}`, 'missing'],
        [`nar/${short.fileName}`, `size ${short.file.length - 10} (recorded ${short.file.length})`],
      ]),
    );
    // The NAR is also the store path's version file: the path is named.
    expect(quick.rows).toContainEqual({ problem: 'missing', sha256: hex(gone), owner: 'alice', type: 'nix', version: `gone@${gone.baseName}`, file: expect.stringContaining('.nar') });

    const progress: Array<[number, number]> = [];
    const full = await doctor({ hashes: true }, (d, n) => progress.push([d, n]));
    expect(full.nars.get(`nar/${flipped.fileName}`)).toBe('hash mismatch');
    expect(full.nars.size).toBe(3);
    expect(full.output).toMatch(/3 damaged/);
    const [done, total] = progress.at(-1)!;
    expect(done).toBe(total);
    expect(total).toBeGreaterThanOrEqual(4);
  });
});
